"""Never silent (issue 12): a Condition that could change the answer but cannot be read gets a
card, even when no relapse could be established — never `{"cards": []}` hiding the warning."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from bench.data import prefetch_of
from service.app import create_app
from service.settings import Settings

CM = "http://hl7.org/fhir/sid/icd-10-cm"
PATIENT = {"resourceType": "Patient", "id": "p", "birthDate": "2012-05-20", "gender": "female"}


def _condition(rid: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": CM, "code": code}]},
        **extra,
    }


def _call(tmp_path: Path, *conditions: dict[str, Any], observations: Any = None) -> dict[str, Any]:
    app = create_app(Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}"))
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p", "userId": "Practitioner/u1"},
        "prefetch": prefetch_of([PATIENT, *conditions], observations=observations),
    }
    response = app.test_client().post("/cds-services/relapsed-all-risk", json=body)
    assert response.status_code == 200
    result: dict[str, Any] = response.get_json()
    return result


def test_an_unreadable_relapse_condition_gets_a_card(tmp_path: Path) -> None:
    dx = _condition("dx", "C91.00", onsetDateTime="2018-03-10")
    broken = _condition("rel", "C91.02", onsetDateTime="2021-06-15", clinicalStatus="relapse")
    cards = _call(tmp_path, dx, broken)["cards"]
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "warning"
    assert card["summary"] == "Relapsed ALL risk not assessed: part of the record could not be read"
    assert "Condition/rel" in card["detail"]
    assert "could not be read" in card["detail"]


def test_an_unreadable_all_condition_alone_gets_a_card(tmp_path: Path) -> None:
    broken = _condition("dx", "C91.00", onsetDateTime="not a date")
    cards = _call(tmp_path, broken)["cards"]
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "Condition/dx" in cards[0]["detail"]


def test_a_relapse_dated_before_the_diagnosis_is_not_dropped(tmp_path: Path) -> None:
    dx = _condition("dx", "C91.00", onsetDateTime="2018-03-10")
    early = _condition("rel", "C91.02", onsetDateTime="2017-01-01")
    risk = _call(tmp_path, dx, early)["cards"][0]
    assert risk["indicator"] == "warning"
    assert "Condition/rel records a relapse on or before the diagnosis date" in risk["detail"]


def test_a_readable_record_without_relapse_still_has_no_card(tmp_path: Path) -> None:
    dx = _condition("dx", "C91.00", onsetDateTime="2018-03-10")
    assert _call(tmp_path, dx) == {"cards": []}


def test_the_card_names_a_failed_key_in_words(tmp_path: Path) -> None:
    broken = _condition("dx", "C91.00", onsetDateTime="not a date")
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    detail = _call(tmp_path, broken, observations=outcome)["cards"][0]["detail"]
    assert "Could not read Observations" in detail
    assert "the EHR sent an OperationOutcome" in detail
    assert "PrefetchFailure" not in detail
