"""`relapse-cds demo` (`make run`): the service, a local FHIR server and a test EHR, on loopback.

Everything runs on embedded defaults with no account anywhere: sekmet-fhir holds the synthetic
patients, the test EHR authorizes the SMART app in front of it, and the service answers hooks.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TextIO

import requests

from service.app import HOOK_PATH, create_app
from service.demo.catalog import demo_patients, load_into
from service.demo.ehr import create_ehr_app
from service.demo.servers import sekmet_server, wsgi_server
from service.hooks import idarubicin_order_sign
from service.logs import configure_logging
from service.sandbox import hook_request
from service.settings import Settings

DATA_DIR = Path("var/demo")


def run_demo(sekmet: Path, port: int, out: TextIO) -> int:
    configure_logging()
    # werkzeug logs every request line at INFO, paths (patient ids) included.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service_url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        # Fixed ports beside the service's, so the README's commands work as printed.
        fhir = stack.enter_context(
            sekmet_server(sekmet, DATA_DIR.resolve() / "fhir", port=port + 1)
        )
        session = requests.Session()
        patients = demo_patients()
        for patient in patients:
            load_into(fhir, patient, session)
        ehr_port = port + 2
        ehr_url = f"http://127.0.0.1:{ehr_port}"
        stack.enter_context(
            wsgi_server(create_ehr_app(fhir, ehr_url, f"{service_url}/app/launch"), port=ehr_port)
        )
        settings = Settings(
            auth="none",
            database_url=f"sqlite:///{DATA_DIR.resolve() / 'relapse-cds.sqlite3'}",
            smart_redirect_url=f"{service_url}/app/callback",
            smart_allowed_issuers=(f"{ehr_url}/fhir",),
            demo_ehr_url=ehr_url,
        )
        stack.enter_context(wsgi_server(create_app(settings), port=port))
        example = hook_request(fhir, patients[0].patient_id)
        signing = next(p for p in patients if p.draft_orders is not None)
        order_example = hook_request(fhir, signing.patient_id, signing.draft_orders)
        out.write(
            f"\nRelapsed-ALL CDS service: {service_url}/  (start page: launch the SMART app)\n"
            f"Discovery:   curl -s {service_url}/cds-services\n"
            f"FHIR server: {fhir} ({len(patients)} synthetic patients)\n"
            f"Test EHR:    {ehr_url}\n\n"
            "A patient-view hook for the first demo patient (no prefetch: the service reads "
            "the FHIR server):\n\n"
            f"curl -s -X POST {service_url}{HOOK_PATH} \\\n"
            f"  -H 'Content-Type: application/json' \\\n  -d '{json.dumps(example)}'\n\n"
            f"An order-sign hook: {signing.name} signs a draft idarubicin 12 mg/m² on "
            "reinduction day 14 with low counts:\n\n"
            f"curl -s -X POST {service_url}{idarubicin_order_sign.HOOK.path} \\\n"
            f"  -H 'Content-Type: application/json' \\\n  -d '{json.dumps(order_example)}'\n\n"
            "Ctrl-C stops everything.\n"
        )
        out.flush()
        with suppress(KeyboardInterrupt):
            stop.wait()
    return 0
