"""Validation remembered by a digest of the resource's JSON: the same answer as validating."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data import synthetic_record
from mappings import fhirjson

RECORD = synthetic_record(6)
# Values that break a field, or keep it valid, in every position they are put.
REPLACEMENTS: st.SearchStrategy[Any] = st.sampled_from(
    [None, 12, "x", [], {}, True, "2021-05-02", 0.5, [None]]
)


@st.composite
def variants(draw: st.DrawFn) -> dict[str, Any]:
    resource = copy.deepcopy(draw(st.sampled_from(RECORD)))
    for _ in range(draw(st.integers(0, 2))):
        target: Any = resource
        while True:
            key = draw(st.sampled_from(sorted(target)))
            child = target[key]
            if isinstance(child, dict) and child and draw(st.booleans()):
                target = child
                continue
            target[key] = draw(REPLACEMENTS)
            break
    return resource


@settings(max_examples=150, deadline=None)
@given(resource=variants())
def test_remembered_answer_is_the_validators(resource: dict[str, Any]) -> None:
    expected = fhirjson._validate(resource)
    assert fhirjson.validation_problem(resource) == expected
    assert fhirjson.validation_problem(copy.deepcopy(resource)) == expected  # from the memo


def test_a_changed_resource_is_validated_again() -> None:
    observation = copy.deepcopy(RECORD[3])
    assert fhirjson.validation_problem(observation) is None
    observation["status"] = 12
    assert fhirjson.validation_problem(observation) == "invalid field 'status'"


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhirjson, "MEMO_SIZE", 5)
    for i in range(20):
        fhirjson.validation_problem({**RECORD[0], "id": f"bound-{i}"})
    assert len(fhirjson._memo) <= 5
