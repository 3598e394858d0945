"""patient-view dates reinduction day 0 from a MedicationAdministration (fhir-contract.md,
"Reinduction"), through our real HTTP server and a real FHIR server (sekmet-fhir): with the EHR's
prefetch and with the service reading the FHIR server itself; and a failed drug read is named
on the response, never a response read from the rest (risk-schemes §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from service.demo.catalog import TIMEOUT
from service.engine import KEY_LABELS
from tests.conftest import FIXTURES
from tests.integration.conftest import post_hook
from tests.integration.faulty_fhir import Fault, FaultyFhir
from tests.integration.test_hook_fhir import assessment_of, hook, prefetch_for

pytestmark = pytest.mark.integration

FIXTURE = json.loads((FIXTURES / "resp-day0-drug.json").read_text(encoding="utf-8"))
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))["resp-day0-drug"]
PATIENT = "rel-resp-day0-drug"  # no reinduction CarePlan: day 0 only from the drugs


@pytest.fixture(scope="module")
def drug_patient(fhir_base: str) -> str:
    with requests.Session() as session:
        for entry in FIXTURE["entry"]:
            r = entry["resource"]
            session.put(
                f"{fhir_base}/{r['resourceType']}/{r['id']}",
                json=r,
                headers={"Content-Type": "application/fhir+json"},
                timeout=TIMEOUT,
            ).raise_for_status()
    return PATIENT


def _day0(response: dict[str, Any]) -> tuple[str, str, str]:
    return response["day0"], response["day0_source"], response["class"]


EXPECTED_DAY0 = (EXPECTED["day0"], EXPECTED["day0_source"], EXPECTED["response"])


def test_day0_from_an_administration_through_the_fetch_path(
    service_url: str, fhir_base: str, drug_patient: str
) -> None:
    body = hook(drug_patient, fhir_server=fhir_base)
    assert _day0(assessment_of(post_hook(service_url, body))["response"]) == EXPECTED_DAY0


def test_day0_from_an_administration_through_the_prefetch(
    service_url: str, fhir_base: str, drug_patient: str
) -> None:
    prefetch = prefetch_for(service_url, fhir_base, drug_patient)
    # The discovery's own search found the administration on the FHIR server.
    given = [e["resource"]["resourceType"] for e in prefetch["administrations"]["entry"]]
    assert given == ["MedicationAdministration"]
    body = hook(drug_patient, prefetch=prefetch)  # no fhirServer: only what was sent
    assert _day0(assessment_of(post_hook(service_url, body))["response"]) == EXPECTED_DAY0


def test_a_refused_administrations_read_is_named_on_the_response(
    service_url: str, faulty_fhir: tuple[FaultyFhir, str], drug_patient: str
) -> None:
    proxy, base = faulty_fhir
    proxy.fault = Fault(status=403, only="/fhir/MedicationAdministration")
    response = post_hook(service_url, hook(drug_patient, fhir_server=base))
    found = assessment_of(response)["response"]
    label = KEY_LABELS["administrations"]
    # Day 0 falls back to the order (the relapse date), but an unread administration could win
    # over it: undetermined for that reason, naming the read (not the "day-7 marrow" that the
    # order's day 0 alone would ask for).
    assert (found["day0_source"], found["class"]) == (
        "MedicationRequest/rel-resp-day0-drug-ida-order",
        "indeterminate",
    )
    assert found["missing"] == [f"reinduction day 0: {label} could not be read"]
    assert f"Could not read {label}" in response.json()["cards"][0]["detail"]
