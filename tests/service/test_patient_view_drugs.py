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


def _response(client: FlaskClient, prefetch: dict[str, Any]) -> dict[str, Any]:
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p", "userId": "Practitioner/u1"},
        "prefetch": prefetch,
    }
    answer = client.post("/cds-services/relapsed-all-risk", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    cards = answer.get_json()["cards"]
    found: dict[str, Any] = cards[0]["extension"][ASSESSMENT_EXTENSION]["response"]
    return found


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
