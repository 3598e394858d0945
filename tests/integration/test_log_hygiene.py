"""No patient identifier, birth date, clinical value or token in a log record at INFO or above."""

from __future__ import annotations

import json
import logging
import re
import traceback
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.data import hook_body, prefetch_of, synthetic_record
from service.cli import main as cli_main
from service.demo.catalog import DemoPatient
from tests.integration.conftest import post_hook
from tests.integration.faulty_fhir import Fault, FaultyFhir

pytestmark = pytest.mark.integration

TOKEN = "opaque-token-8f3a9c2e71"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# A call's duration is measured by the service, not read from the record: a duration of 40.0 ms
# is not the blast value 40.0.
MEASURED = re.compile(r"duration_ms=[\d.]+")
# The werkzeug test server's access log stands in for gunicorn's, which `serve` turns off.
TEST_SERVER_LOGGERS = ("werkzeug",)


def secrets_of(resources: list[dict[str, Any]]) -> set[str]:
    """Ids, MRNs, full names, dates and numeric values anywhere in the resources."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            if key == "name" and isinstance(value.get("text"), str):
                found.add(value["text"])
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and (key in ("id", "birthDate", "value") or DATE.match(value)):
            found.add(value[:10] if DATE.match(value) else value)
        elif isinstance(value, float | int) and not isinstance(value, bool) and key == "value":
            found.add(repr(value))

    for resource in resources:
        walk(resource)
    return found


def leaks(text: str, secrets: set[str]) -> list[str]:
    return [s for s in secrets if re.search(rf"(?<![\w.]){re.escape(s)}(?![\w])", text)]


def record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), *(str(v) for v in record.__dict__.values() if isinstance(v, str))]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return MEASURED.sub("duration_ms=-", "\n".join(parts))


def exercise(
    *,
    service_url: str,
    fhir_base: str,
    proxy: FaultyFhir,
    proxy_base: str,
    patients: list[DemoPatient],
    tmp_path: Path,
) -> None:
    """A representative session: prefetch, fetch, faults, feedback, bad requests, the CLI."""
    authorization = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "relapse-cds",
    }
    for patient in patients:
        resources = [e["resource"] for e in patient.bundle["entry"]]
        post_hook(service_url, hook_body(patient.patient_id, prefetch_of(resources)))
        post_hook(service_url, hook_body(patient.patient_id, None, fhirServer=fhir_base))
        bundle = tmp_path / f"{patient.key}.json"
        bundle.write_text(json.dumps(patient.bundle), encoding="utf-8")
        cli_main(["assess", "--as-of", "2026-11-22", str(bundle)])
    target = patients[0].patient_id
    for fault in (Fault(status=401), Fault(body=b"<html>", content_type="text/html"), Fault()):
        proxy.fault = fault
        body = hook_body(target, None, fhirServer=proxy_base, fhirAuthorization=authorization)
        post_hook(service_url, body)
    post_hook(service_url, hook_body("bench-1", prefetch_of(synthetic_record(40))))
    broken = prefetch_of(synthetic_record(10))
    broken["observations"]["entry"][0]["resource"]["valueQuantity"] = {"value": "not a number"}
    post_hook(service_url, hook_body("bench-1", broken))
    bad_bodies: list[Any] = [
        {"hook": "patient-view", "context": {"patientId": target}},
        {**hook_body(target, None), "fhirAuthorization": {**authorization, "token_type": "x"}},
        {**hook_body(target, None), "context": {"patientId": f"{target} ", "userId": "x"}},
        [target],
    ]
    url = f"{service_url}/cds-services/relapsed-all-risk"
    for bad in bad_bodies:
        requests.post(url, json=bad, timeout=10)
    requests.post(url, data=f"{{not json {target}", timeout=10)
    requests.post(f"{url}/feedback", json={"feedback": [{"card": target}]}, timeout=10)


def test_no_sensitive_value_is_logged_at_info_or_above(
    *,
    caplog: pytest.LogCaptureFixture,
    service_url: str,
    fhir_base: str,
    faulty_fhir: tuple[FaultyFhir, str],
    patients: list[DemoPatient],
    tmp_path: Path,
) -> None:
    secrets = {TOKEN}
    for patient in patients:
        secrets |= secrets_of([e["resource"] for e in patient.bundle["entry"]])
    secrets |= secrets_of(synthetic_record(40))
    proxy, proxy_base = faulty_fhir
    with caplog.at_level(logging.DEBUG):
        exercise(
            service_url=service_url,
            fhir_base=fhir_base,
            proxy=proxy,
            proxy_base=proxy_base,
            patients=patients,
            tmp_path=tmp_path,
        )
    records = [r for r in caplog.records if not r.name.startswith(TEST_SERVER_LOGGERS)]
    # The capture works and sees patient data at DEBUG, so a leak above DEBUG would be caught.
    debug = "\n".join(record_text(r) for r in records if r.levelno < logging.INFO)
    assert leaks(debug, {patients[0].patient_id})
    assert any(r.levelno >= logging.INFO for r in records)
    found = {
        f"{r.levelname} {r.name}: {record_text(r)[:200]}": leaks(record_text(r), secrets)
        for r in records
        if r.levelno >= logging.INFO
    }
    assert {k: v for k, v in found.items() if v} == {}
