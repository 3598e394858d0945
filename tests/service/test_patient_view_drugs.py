"""patient-view dates reinduction day 0 from the drugs (fhir-contract.md, "Reinduction": the first
MedicationAdministration, else MedicationRequest.authoredOn, of a reinduction drug within 21 days
after the relapse), read from its `administrations` and `medications` prefetch keys."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from bench.data import prefetch_of
from service.app import create_app
from service.cards import ASSESSMENT_EXTENSION
from service.engine import DRUG_KEYS, KEY_LABELS, KEY_TYPES, REQUIRED_KEYS, RESPONSE_READS
from service.settings import Settings
from tests.mappings.builders import diagnosis, patient, relapse
from tests.service.order_builders import IDARUBICIN, SUBJECT, day, given

AS_OF = date(2026, 2, 10)  # day 9 of a reinduction started 2026-02-01 (relapse 2026-01-28)
RECORD = [patient(), diagnosis(), relapse("rel", "2026-01-28", "14016003")]  # no CarePlan


def ordered(n: int) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"ida-ordered-{n}",
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": IDARUBICIN,
        "authoredOn": day(n),
    }


def _client(tmp_path: Path) -> FlaskClient:
    settings = Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}")
    return create_app(settings, today=lambda: AS_OF).test_client()


def _cards(client: FlaskClient, prefetch: dict[str, Any]) -> list[dict[str, Any]]:
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p", "userId": "Practitioner/u1"},
        "prefetch": prefetch,
    }
    answer = client.post("/cds-services/relapsed-all-risk", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    cards: list[dict[str, Any]] = answer.get_json()["cards"]
    return cards


def _response(client: FlaskClient, prefetch: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = _cards(client, prefetch)[0]["extension"][ASSESSMENT_EXTENSION]
    response: dict[str, Any] = found["response"]
    return response


def test_a_reinduction_drug_given_dates_day0_from_the_administrations_key(
    tmp_path: Path,
) -> None:
    response = _response(_client(tmp_path), prefetch_of([*RECORD, given(0), ordered(-1)]))
    # Given beats ordered, whatever the dates (contract: "else MedicationRequest.authoredOn").
    assert (response["day0"], response["day0_source"]) == (
        day(0),
        "MedicationAdministration/ida-given-0",
    )
    assert response["class"] == "pending"


def test_a_reinduction_drug_only_ordered_dates_day0_from_the_medications_key(
    tmp_path: Path,
) -> None:
    response = _response(_client(tmp_path), prefetch_of([*RECORD, ordered(1)]))
    assert (response["day0"], response["day0_source"]) == (
        day(1),
        "MedicationRequest/ida-ordered-1",
    )


OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "query timed out"}],
}


def test_a_failed_administrations_key_leaves_a_day0_from_an_order_undetermined(
    tmp_path: Path,
) -> None:
    # An administration (unread) would date day 0 before any order (contract): no response is
    # read from the order; the response and the card name the key that failed.
    cards = _cards(_client(tmp_path), prefetch_of([*RECORD, ordered(1)], administrations=OUTCOME))
    response = cards[0]["extension"][ASSESSMENT_EXTENSION]["response"]
    label = KEY_LABELS["administrations"]
    assert (response["class"], response["marrows"]) == ("indeterminate", {})
    assert response["missing"] == [f"reinduction day 0: {label} could not be read"]
    assert f"Could not read {label}" in cards[0]["detail"]


def test_an_ehr_sending_only_the_older_five_keys_is_told_the_response_was_not_read(
    tmp_path: Path,
) -> None:
    # No fhirServer: the drug keys are failures, not "no drugs".
    five = {k: v for k, v in prefetch_of([*RECORD, given(0)]).items() if k not in DRUG_KEYS}
    cards = _cards(_client(tmp_path), five)
    assessment = cards[0]["extension"][ASSESSMENT_EXTENSION]
    assert "response" not in assessment
    assert any(
        w.startswith("Response to reinduction (§7) not read: no reinduction day 0 was found")
        and KEY_LABELS["administrations"] in w
        for w in assessment["warnings"]
    )


def test_every_optional_key_says_what_of_the_response_it_holds() -> None:
    assert set(RESPONSE_READS) == set(KEY_TYPES) - REQUIRED_KEYS
