"""Properties of the mapping layer and the engine over generated records."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data import AS_OF, CORE, synthetic_record
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service.domain.schemes import scheme_keys
from service.engine import assess_resources
from tests.conftest import MCODE_EXAMPLE

CODES = load_codesets(None)
MCODE = resources_from_bundle(json.loads(MCODE_EXAMPLE.read_text(encoding="utf-8")))
# Groups from least to most intensive (risk-schemes.md §3); other answers are not ranked.
RANKS: dict[str, tuple[str, ...]] = {
    "bfm": ("S1", "S2", "S3", "S4"),
    "allr3": ("standard", "intermediate", "high"),
    "cog": ("low", "intermediate", "high"),
    "intreall": ("standard", "high"),
    "inpog": ("standard", "high"),
}
PLANS = ("chemotherapy", "chemotherapy_then_hsct")


def with_karyotype(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record with a normal karyotype: genetics evaluated, so TP53 (PATH-6) is absent and
    the plan turns on the MRD alone."""
    karyotype = {
        "resourceType": "Observation",
        "id": "karyotype",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "62356-1"}]},
        "subject": {"reference": f"Patient/{resources[0]['id']}"},
        "valueString": "46,XY[20]",
    }
    return [*resources, karyotype]


def assessment(resources: list[dict[str, Any]], primary: str = "bfm") -> dict[str, Any]:
    result = assess_resources(resources, codes=CODES, primary=primary, as_of=AS_OF)
    found: dict[str, Any] = result.assessment.to_json()
    return found


records = st.builds(
    synthetic_record,
    st.integers(min_value=CORE, max_value=25),
    mrd_percent=st.none() | st.floats(min_value=0.0, max_value=100.0),
    mrd_days_after_relapse=st.integers(min_value=0, max_value=90),
)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), resources=records | st.just(MCODE))
def test_the_answer_does_not_depend_on_resource_order(
    data: st.DataObject, resources: list[dict[str, Any]]
) -> None:
    shuffled = data.draw(st.permutations(resources))
    assert assessment(list(shuffled)) == assessment(resources)


@settings(max_examples=80, deadline=None)
@given(
    low=st.floats(min_value=0.0, max_value=100.0),
    high=st.floats(min_value=0.0, max_value=100.0),
    days=st.integers(min_value=21, max_value=60),
    primary=st.sampled_from(scheme_keys()),
)
def test_more_mrd_never_lowers_the_risk(low: float, high: float, days: int, primary: str) -> None:
    low, high = sorted((low, high))
    less = assessment(
        with_karyotype(synthetic_record(CORE, mrd_percent=low, mrd_days_after_relapse=days)),
        primary,
    )
    more = assessment(
        with_karyotype(synthetic_record(CORE, mrd_percent=high, mrd_days_after_relapse=days)),
        primary,
    )
    for scheme, order in RANKS.items():
        before, after = less["schemes"][scheme]["group"], more["schemes"][scheme]["group"]
        if before in order and after in order:
            assert order.index(before) <= order.index(after), (scheme, low, high)
    plans = less["pathway"]["plan"], more["pathway"]["plan"]
    if all(plan in PLANS for plan in plans):
        assert PLANS.index(plans[0]) <= PLANS.index(plans[1]), (primary, low, high)


def test_mrd_decides_a_late_b_marrow_relapse() -> None:
    """Guards the property above: the generated record really is MRD-sensitive."""
    low = assessment(with_karyotype(synthetic_record(CORE, mrd_percent=0.001)), "cog")
    high = assessment(with_karyotype(synthetic_record(CORE, mrd_percent=1.0)), "cog")
    assert (low["schemes"]["cog"]["group"], high["schemes"]["cog"]["group"]) == (
        "low",
        "intermediate",
    )
    assert (low["pathway"]["plan"], high["pathway"]["plan"]) == PLANS
