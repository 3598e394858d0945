"""`relapse-cds sandbox`: load the demo patients into a FHIR server and call the hooks for each.

The hooks are called with no prefetch, so the service reads everything from the FHIR server
itself, as it would for an EHR that sends none: patient-view for every patient, and order-sign
for a patient with draft orders (its line's `order_sign`).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import requests

from service.app import create_app
from service.demo.catalog import demo_patients, load_into
from service.hooks import idarubicin_order_sign, patient_view
from service.settings import Settings

TIMEOUT = (3.05, 30.0)

Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


def hook_request(
    fhir_server: str, patient_id: str, draft_orders: dict[str, Any] | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "patientId": patient_id,
        "userId": "Practitioner/relapse-cds-sandbox",
    }
    if draft_orders is not None:
        context["draftOrders"] = draft_orders
    return {
        "hook": "patient-view" if draft_orders is None else "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_server,
        "context": context,
    }


def run_sandbox(fhir_server: str, service_url: str | None, out: TextIO) -> int:
    session = requests.Session()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        post = _in_process(Path(tmp)) if service_url is None else _remote(service_url, session)
        for patient in demo_patients():
            line: dict[str, Any] = {"patient": f"Patient/{patient.patient_id}"}
            try:
                load_into(fhir_server, patient, session)
                line["status"], line["response"] = post(
                    patient_view.HOOK.path, hook_request(fhir_server, patient.patient_id)
                )
                if patient.draft_orders is not None:
                    status, response = post(
                        idarubicin_order_sign.HOOK.path,
                        hook_request(fhir_server, patient.patient_id, patient.draft_orders),
                    )
                    line["order_sign"] = {"status": status, "response": response}
            except (requests.RequestException, RuntimeError) as exc:
                line["error"] = str(exc)
            failed = (
                failed
                or line.get("status") != 200
                or line.get("order_sign", {"status": 200})["status"] != 200
            )
            out.write(json.dumps(line) + "\n")
    return 1 if failed else 0


def _in_process(tmp: Path) -> Post:
    settings = Settings(auth="none", database_url=f"sqlite:///{tmp / 'feedback.sqlite3'}")
    client = create_app(settings).test_client()

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        answer = client.post(path, json=body)
        return answer.status_code, answer.get_json(silent=True)

    return post


def _remote(service_url: str, session: requests.Session) -> Post:
    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        answer = session.post(service_url.rstrip("/") + path, json=body, timeout=TIMEOUT)
        return answer.status_code, answer.json() if answer.content else None

    return post
