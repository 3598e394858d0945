"""Property (issue 12): adding a resource of another patient, or an entered-in-error copy of any
resource, never changes the assessment (only the warnings that name what was ignored)."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data import AS_OF, CORE, synthetic_record
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service.engine import assess_resources
from tests.conftest import FIXTURES, MCODE_EXAMPLE

CODES = load_codesets(None)
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")


def _bundles() -> list[list[dict[str, Any]]]:
    found = [resources_from_bundle(json.loads(MCODE_EXAMPLE.read_text(encoding="utf-8")))]
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            found.append(resources_from_bundle(data))
    return found


BUNDLES = _bundles()
records = st.sampled_from(BUNDLES) | st.builds(
    synthetic_record,
    st.integers(min_value=CORE, max_value=12),
    mrd_percent=st.none() | st.floats(min_value=0.0, max_value=100.0),
)


def _answer(resources: list[dict[str, Any]]) -> dict[str, Any]:
    result = assess_resources(resources, codes=CODES, primary="bfm", as_of=AS_OF)
    found: dict[str, Any] = result.assessment.to_json()
    # What was ignored is named (warnings) or counted (ignored), and not part of the answer.
    del found["warnings"], found["ignored"]
    return found


def _shift(value: Any, days: int) -> Any:
    """Every date in `value` moved by `days` (so a copy that were read would change the answer)."""
    if isinstance(value, dict):
        return {k: _shift(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    if isinstance(value, str) and (m := _DATE.match(value)) and len(value) <= 30:
        try:
            moved = date.fromisoformat(m[1]) + timedelta(days=days)
        except (ValueError, OverflowError):
            return value
        return moved.isoformat() + value[10:]
    return value


def _withdrawn(resource: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    if out["resourceType"] == "Condition":
        out["verificationStatus"] = {"coding": [{"system": VER, "code": "entered-in-error"}]}
    else:
        out["status"] = "entered-in-error"
    return out


@settings(max_examples=120, deadline=None)
@given(
    resources=records,
    data=st.data(),
    days=st.integers(min_value=-400, max_value=400),
    subject=st.sampled_from(
        ["Patient/someone-else", "urn:uuid:5b7e2f0c-9d1a-4e3b-8c6f-2a4d7e9b1c05", "Group/ward"]
    ),
)
def test_another_patients_resource_never_changes_the_answer(
    resources: list[dict[str, Any]], data: st.DataObject, days: int, subject: str
) -> None:
    candidates = [r for r in resources if r["resourceType"] != "Patient"]
    original = data.draw(st.sampled_from(candidates))
    foreign = _shift(copy.deepcopy(original), days)
    foreign["id"] = f"{original['id']}-foreign"
    key = "patient" if "patient" in foreign and "subject" not in foreign else "subject"
    foreign[key] = {"reference": subject}
    assert _answer([*resources, foreign]) == _answer(resources)


@settings(max_examples=120, deadline=None)
@given(resources=records, data=st.data(), days=st.integers(min_value=-400, max_value=400))
def test_an_entered_in_error_copy_never_changes_the_answer(
    resources: list[dict[str, Any]], data: st.DataObject, days: int
) -> None:
    candidates = [
        r
        for r in resources
        if r["resourceType"] in ("Condition", "Observation", "Procedure", "CarePlan")
    ]
    original = data.draw(st.sampled_from(candidates))
    withdrawn = _withdrawn(_shift(original, days))
    withdrawn["id"] = f"{original['id']}-eie"
    assert _answer([*resources, withdrawn]) == _answer(resources)


def test_the_copies_would_change_the_answer_if_they_were_read() -> None:
    """Guards the properties: the same copy, standing and of this patient, changes the answer."""
    resources = synthetic_record(CORE)
    relapse = next(r for r in resources if r["id"].endswith("-rel"))
    earlier = _shift(relapse, -200)
    earlier["id"] = "standing-copy"
    assert _answer([*resources, earlier]) != _answer(resources)
