"""`relapse-cds sandbox` against a real FHIR server, through the installed console script."""

from __future__ import annotations

import json
import subprocess

from service.demo.catalog import DemoPatient
from service.order_cards import FINDINGS_EXTENSION
from tests.service.test_cli import SCRIPT


def test_sandbox_loads_the_patients_and_prints_their_cards(
    fhir_base: str, patients: list[DemoPatient], service_url: str
) -> None:
    assert SCRIPT
    for service in ([], ["--service", service_url]):
        result = subprocess.run(
            [SCRIPT, "sandbox", "--fhir-server", fhir_base, *service],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line["patient"] for line in lines] == [f"Patient/{p.patient_id}" for p in patients]
        for line in lines:
            assert line["status"] == 200
            assert len(line["response"]["cards"]) == 2
        # The demo patient with a draft order: order-sign answers the CALL-0603 warnings.
        signed = [line["order_sign"] for line in lines if "order_sign" in line]
        assert [p.patient_id for p in patients if p.draft_orders] == [
            line["patient"].removeprefix("Patient/") for line in lines if "order_sign" in line
        ]
        assert signed
        for answer in signed:
            assert answer["status"] == 200
            rules = [
                c["extension"][FINDINGS_EXTENSION]["rule"] for c in answer["response"]["cards"]
            ]
            assert rules == ["ORD-IDA-DOSE", "ORD-IDA-COUNTS"]


def test_sandbox_reports_an_unreachable_fhir_server() -> None:
    assert SCRIPT
    result = subprocess.run(
        [SCRIPT, "sandbox", "--fhir-server", "http://127.0.0.1:9/fhir"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert all("error" in json.loads(line) for line in result.stdout.splitlines())
