"""The JSON parser every body goes through: any JSON value, nesting bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cds_hooks.jsonbody import MAX_DEPTH, TooDeep, loads


@pytest.mark.parametrize("text", ["null", "3", '"x"', "true", "[]", "{}"])
def test_any_json_value_parses(text: str) -> None:
    assert loads(text) == json.loads(text)


def test_nesting_up_to_the_bound_parses() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    nested: Any = loads(text)
    for _ in range(MAX_DEPTH - 1):
        nested = nested[0]
    assert nested == []


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeper_nesting_is_refused(depth: int) -> None:
    with pytest.raises(TooDeep):
        loads("[" * depth + "]" * depth)


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        loads("{not json")
