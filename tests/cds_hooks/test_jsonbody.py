"""The JSON parser every body goes through: any JSON value, nesting bounded (the nesting read
from the text agrees with the nesting of the parsed value)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.jsonbody import MAX_DEPTH, TooDeep, depth, loads


@pytest.mark.parametrize("text", ["null", "3", '"x"', "true", "[]", "{}"])
def test_any_json_value_parses(text: str) -> None:
    assert loads(text) == json.loads(text)


def test_nesting_up_to_the_bound_parses() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    nested: Any = loads(text)
    for _ in range(MAX_DEPTH - 1):
        nested = nested[0]
    assert nested == []


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100_000])
def test_deeper_nesting_is_refused(levels: int) -> None:
    with pytest.raises(TooDeep):
        loads("[" * levels + "]" * levels)


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        loads("{not json")


def test_brackets_in_strings_do_not_nest() -> None:
    inner = '{"a": ' * (MAX_DEPTH - 1) + '["]}\\\\", "\\"[[", 1]' + "}" * (MAX_DEPTH - 1)
    assert depth(inner) == MAX_DEPTH
    loads(inner)
    with pytest.raises(TooDeep):
        loads("[" + inner + "]")


# Strings full of what could be mistaken for nesting: brackets, quotes, backslashes, escapes.
tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\/aé\u2028\U0001f600'), max_size=8)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(value=values, ascii_only=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_depth_is_the_nesting_of_the_value(value: Any, ascii_only: bool, encoding: str) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert depth(text) == nesting(value)
    assert depth(text.encode(encoding)) == nesting(value)
