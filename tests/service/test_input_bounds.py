"""Dates at the end of the calendar: assessed, never a 500 (was an OverflowError)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.domain.timing import before_months
from service.settings import Settings
from tests.conftest import FIXTURES

RECORD = FIXTURES / "b-early-combined.json"
DIAGNOSIS, RELAPSE = "rel-b-early-combined-cond-1", "rel-b-early-combined-cond-2"


def test_an_anniversary_past_the_calendar_is_after_every_date() -> None:
    assert before_months(date(9999, 12, 31), date(9999, 12, 1), 18)


def _hook(condition_id: str, onset: str) -> dict[str, Any]:
    resources = [entry["resource"] for entry in json.loads(RECORD.read_text())["entry"]]
    for resource in resources:
        if resource["id"] == condition_id:
            resource["onsetDateTime"] = onset
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)

    def bundle(kind: str) -> dict[str, Any]:
        entries = [{"resource": r} for r in by_type.get(kind, [])]
        return {"resourceType": "Bundle", "type": "searchset", "entry": entries}

    patient = by_type["Patient"][0]
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient["id"], "userId": "Practitioner/u1"},
        "prefetch": {
            "patient": patient,
            "conditions": bundle("Condition"),
            "observations": bundle("Observation"),
            "procedures": bundle("Procedure"),
            "careplans": bundle("CarePlan"),
        },
    }


@pytest.mark.parametrize("condition_id", [DIAGNOSIS, RELAPSE])
@pytest.mark.parametrize("onset", ["9999-12-31", "9999-12-31T23:59:59+14:00", "9999-12"])
def test_onset_at_the_end_of_the_calendar_is_assessed(
    tmp_path: Path, condition_id: str, onset: str
) -> None:
    app = create_app(Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}"))
    response = app.test_client().post(
        "/cds-services/relapsed-all-risk", json=_hook(condition_id, onset)
    )
    assert response.status_code == 200
    assert response.get_json()["cards"]
