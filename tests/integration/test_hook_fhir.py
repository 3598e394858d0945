"""The patient-view hook against a real FHIR server (sekmet-fhir) and our real HTTP server."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from cds_hooks.models import check_cards_response
from service.cards import ASSESSMENT_EXTENSION
from service.demo.catalog import DemoPatient
from service.hooks import REGISTERED
from tests.integration.conftest import DEADLINE, post_hook
from tests.integration.faulty_fhir import Fault, FaultyFhir

pytestmark = pytest.mark.integration


def hook(patient_id: str, *, fhir_server: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient_id, "userId": "Practitioner/1"},
        **extra,
    }
    if fhir_server:
        body["fhirServer"] = fhir_server
    return body


def assessment_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert check_cards_response(payload) == []
    found = [c["extension"][ASSESSMENT_EXTENSION] for c in payload["cards"] if "extension" in c]
    assert len(found) == 1
    assessment: dict[str, Any] = found[0]
    return assessment


def prefetch_for(service_url: str, fhir_base: str, patient_id: str) -> dict[str, Any]:
    """What a complete EHR would prefetch: each template of our discovery, fully paged."""
    discovery = requests.get(f"{service_url}/cds-services", timeout=10).json()
    templates = discovery["services"][0]["prefetch"]
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = template.replace("{{context.patientId}}", patient_id)
        url: str | None = f"{fhir_base}/{query}"
        entries: list[dict[str, Any]] = []
        while url:
            page = requests.get(url, timeout=10).json()
            if page["resourceType"] != "Bundle":
                prefetch[key] = page
                break
            entries += page.get("entry", [])
            url = next((x["url"] for x in page.get("link", []) if x["relation"] == "next"), None)
        else:
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    return prefetch


def test_discovery_lists_the_service(service_url: str) -> None:
    services = requests.get(f"{service_url}/cds-services", timeout=10).json()["services"]
    assert [s["id"] for s in services] == [hook.id for hook in REGISTERED]
    assert services[0]["hook"] == "patient-view"
    prefetch = services[0]["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["observations"].startswith("Observation?patient={{context.patientId}}&code=")
    assert prefetch["administrations"] == "MedicationAdministration?patient={{context.patientId}}"
    assert prefetch["medications"] == "MedicationRequest?patient={{context.patientId}}"


def test_fetch_path_equals_full_prefetch(
    service_url: str, fhir_base: str, patients: list[DemoPatient]
) -> None:
    for patient in patients:
        fetched = assessment_of(
            post_hook(service_url, hook(patient.patient_id, fhir_server=fhir_base))
        )
        prefetch = prefetch_for(service_url, fhir_base, patient.patient_id)
        given = assessment_of(post_hook(service_url, hook(patient.patient_id, prefetch=prefetch)))
        assert fetched == given, patient.key
        assert fetched["patient"] == f"Patient/{patient.patient_id}"


def test_fetch_path_survives_a_proxy_that_collapses_slashes(
    service_url: str,
    fhir_base: str,
    faulty_fhir: tuple[FaultyFhir, str],
    patients: list[DemoPatient],
) -> None:
    proxy, proxied = faulty_fhir
    proxy.fault = Fault(collapse_slashes=True)
    for patient in patients:
        direct = assessment_of(
            post_hook(service_url, hook(patient.patient_id, fhir_server=fhir_base))
        )
        through = assessment_of(
            post_hook(service_url, hook(patient.patient_id, fhir_server=proxied))
        )
        assert through == direct, patient.key


def test_partial_prefetch_fetches_the_rest(
    service_url: str, fhir_base: str, patients: list[DemoPatient]
) -> None:
    patient = patients[0]
    full = prefetch_for(service_url, fhir_base, patient.patient_id)
    partial = {k: full[k] for k in ("patient", "conditions")}
    fetched = assessment_of(
        post_hook(service_url, hook(patient.patient_id, fhir_server=fhir_base, prefetch=partial))
    )
    complete = assessment_of(post_hook(service_url, hook(patient.patient_id, prefetch=full)))
    assert fetched == complete


def test_null_prefetch_means_no_data(
    service_url: str, fhir_base: str, patients: list[DemoPatient]
) -> None:
    patient = next(p for p in patients if assessment_has_mrd(service_url, fhir_base, p))
    prefetch = prefetch_for(service_url, fhir_base, patient.patient_id)
    prefetch["observations"] = None
    assessment = assessment_of(post_hook(service_url, hook(patient.patient_id, prefetch=prefetch)))
    assert assessment["inputs"]["mrd"] is None


def assessment_has_mrd(service_url: str, fhir_base: str, patient: DemoPatient) -> bool:
    response = post_hook(service_url, hook(patient.patient_id, fhir_server=fhir_base))
    return assessment_of(response)["inputs"]["mrd"] is not None


def test_operation_outcome_for_an_optional_key_is_named_on_the_card(
    service_url: str, fhir_base: str, patients: list[DemoPatient]
) -> None:
    patient = patients[0]
    prefetch = prefetch_for(service_url, fhir_base, patient.patient_id)
    prefetch["observations"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "query timed out"}],
    }
    response = post_hook(service_url, hook(patient.patient_id, prefetch=prefetch))
    assessment_of(response)
    risk = response.json()["cards"][0]
    assert risk["indicator"] == "warning"
    assert "Could not read Observations" in risk["detail"]


def test_operation_outcome_for_a_required_key_is_412(
    service_url: str, fhir_base: str, patients: list[DemoPatient]
) -> None:
    patient = patients[0]
    prefetch = prefetch_for(service_url, fhir_base, patient.patient_id)
    prefetch["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "no access"}],
    }
    response = post_hook(service_url, hook(patient.patient_id, prefetch=prefetch))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


def test_all_without_relapse_gets_no_cards(service_url: str, fhir_base: str) -> None:
    response = post_hook(service_url, hook("mcode-ava-r", fhir_server=fhir_base))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_unknown_patient_is_412(service_url: str, fhir_base: str) -> None:
    response = post_hook(service_url, hook("no-such-patient", fhir_server=fhir_base))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


def test_bearer_token_is_sent_to_the_fhir_server(
    service_url: str, faulty_fhir: tuple[FaultyFhir, str], patients: list[DemoPatient]
) -> None:
    proxy, base = faulty_fhir
    proxy.fault = Fault(require_token="opaque-token-1")
    authorization = {
        "access_token": "opaque-token-1",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "relapse-cds",
    }
    body = hook(patients[0].patient_id, fhir_server=base, fhirAuthorization=authorization)
    assessment_of(post_hook(service_url, body))
    assert set(proxy.seen_authorization) == {"Bearer opaque-token-1"}


def test_fhir_401_is_412(
    service_url: str, faulty_fhir: tuple[FaultyFhir, str], patients: list[DemoPatient]
) -> None:
    proxy, base = faulty_fhir
    proxy.fault = Fault(require_token="the-right-one")
    response = post_hook(service_url, hook(patients[0].patient_id, fhir_server=base))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "fault", [Fault(delay=DEADLINE + 3), Fault(delay=DEADLINE + 3, only="/fhir/Observation")]
)
def test_slow_fhir_server_answers_within_the_deadline(
    service_url: str, faulty_fhir: tuple[FaultyFhir, str], patients: list[DemoPatient], fault: Fault
) -> None:
    proxy, base = faulty_fhir
    proxy.fault = fault
    started = time.monotonic()
    response = post_hook(service_url, hook(patients[0].patient_id, fhir_server=base))
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 1.0
    if fault.only:  # an optional key timed out: the card says so
        assessment_of(response)
        assert "Could not read Observations" in response.json()["cards"][0]["detail"]
    else:
        assert response.status_code == 412


def test_dead_fhir_server_is_412(service_url: str, patients: list[DemoPatient]) -> None:
    from service.demo.servers import free_port

    response = post_hook(
        service_url,
        hook(patients[0].patient_id, fhir_server=f"http://127.0.0.1:{free_port()}/fhir"),
    )
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
