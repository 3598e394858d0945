"""Records of odd shape reach the assessment and are answered, never a 500: dates at the end of
the calendar, numbers no float holds, ids and codes of the wrong JSON type."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from bench.data import prefetch_of
from service.app import create_app
from service.domain.timing import before_months
from service.settings import Settings
from tests.conftest import FIXTURES

RECORD = FIXTURES / "b-early-combined.json"
DIAGNOSIS, RELAPSE = "rel-b-early-combined-cond-1", "rel-b-early-combined-cond-2"
PATIENT, MRD = "rel-b-early-combined", "rel-b-early-combined-obs-4"


def test_an_anniversary_past_the_calendar_is_after_every_date() -> None:
    assert before_months(date(9999, 12, 31), date(9999, 12, 1), 18)


def _hook(resource_id: str, field: str, value: Any) -> dict[str, Any]:
    """The hook call for RECORD with `field` of resource `resource_id` set to `value`."""
    resources = [entry["resource"] for entry in json.loads(RECORD.read_text())["entry"]]
    for resource in resources:
        if resource["id"] == resource_id:
            resource[field] = value
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": PATIENT, "userId": "Practitioner/u1"},
        "prefetch": prefetch_of(resources),
    }


@pytest.mark.parametrize("condition_id", [DIAGNOSIS, RELAPSE])
@pytest.mark.parametrize("onset", ["9999-12-31", "9999-12-31T23:59:59+14:00", "9999-12"])
def test_onset_at_the_end_of_the_calendar_is_assessed(
    tmp_path: Path, condition_id: str, onset: str
) -> None:
    response = _post(tmp_path, _hook(condition_id, "onsetDateTime", onset))
    assert response.get_json()["cards"]


def _post(tmp_path: Path, body: dict[str, Any]) -> TestResponse:
    app = create_app(Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}"))
    response = app.test_client().post("/cds-services/relapsed-all-risk", json=body)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("mrd", ["1e400 %", "10^400 %", "1 x 10^" + "9" * 5000 + " %"])
def test_an_mrd_no_float_holds_is_out_of_range(tmp_path: Path, mrd: str) -> None:
    response = _post(tmp_path, _hook(MRD, "valueString", mrd))
    assert "MRD value out of range" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("resource_id", "field", "value"),
    [(PATIENT, "id", []), (PATIENT, "id", {"x": 1}), (MRD, "status", ["final"])],
)
def test_a_field_of_the_wrong_json_type_is_named_on_the_card(
    tmp_path: Path, resource_id: str, field: str, value: Any
) -> None:
    response = _post(tmp_path, _hook(resource_id, field, value))
    assert response.get_json()["cards"]
