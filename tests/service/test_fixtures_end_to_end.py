"""Every synthetic fixture through the installed console script, against the expectations that
were derived by hand from the spec (tests/fixtures/expected.json), not from the code's output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.domain.schemes import scheme_keys
from tests.conftest import FIXTURES
from tests.service.test_cli import lines, run

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (FIXTURES / "expected.json").read_text(encoding="utf-8")
)
SCHEMES = scheme_keys()


def decided(assessment: dict[str, Any], key: str) -> Any:
    """The assessment's answer for one key of expected.json (None: a mapping-only key)."""
    if key in SCHEMES:
        return assessment["schemes"][key]["group"]
    if key == "plan_bfm":
        return assessment["pathway"]["plan"]
    if key.startswith("timing_"):
        return assessment["timing"][key.removeprefix("timing_")]
    if key == "site_pattern":
        return assessment["site_pattern"]
    if key == "additions":
        return assessment["pathway"]["additions"]
    if key == "changes":
        return [[c["target"], c["condition"], c["answer"]] for c in assessment["changes"]]
    if key == "response":
        return assessment["response"]["class"] if "response" in assessment else "absent"
    if key in ("day0", "day0_source"):
        return assessment["response"][key] if "response" in assessment else "absent"
    return None


@pytest.fixture(scope="module")
def assessed() -> dict[str, dict[str, Any]]:
    # One call for every bundle: the command line's multi-path mode, as a user would run it.
    names = list(EXPECTED)
    result = run("--as-of", "2026-11-22", *(FIXTURES / f"{n}.json" for n in names))
    return dict(zip(names, lines(result), strict=True))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_matches_the_hand_derived_expectation(
    name: str, assessed: dict[str, dict[str, Any]]
) -> None:
    assessment = assessed[name]
    assert "error" not in assessment
    for key, expected in EXPECTED[name].items():
        answer = decided(assessment, key)
        if answer is not None:
            assert answer == expected, f"{key}: {assessment['schemes'].get(key, '')}"
