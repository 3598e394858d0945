"""Properties: more MRD never lowers the risk; the answer is deterministic; enumerating only
the dimensions a scheme declares it reads gives the same answer as enumerating all of them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain import assess
from service.domain.facts import DIMENSIONS, build_space, decide
from service.domain.inputs import Genetics, Lineage, MarkerStatus, RelapseInputs, Site
from service.domain.schemes import SCHEMES, assess_scheme
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)
COG_ORDER = {"low": 0, "intermediate": 1, "high": 2}
INPOG_ORDER = {"standard": 0, "high": 1}
PLAN_ORDER = {"chemotherapy": 0, "mrd_directed": 1, "chemotherapy_then_hsct": 2}

site_sets = st.frozensets(st.sampled_from(list(Site)), min_size=1)
records = st.fixed_dictionaries(
    {
        "lineage": st.sampled_from([Lineage.B, Lineage.T, Lineage.MPAL, None]),
        "relapse_date": st.dates(date(2015, 6, 1), date(2021, 1, 1)),
        "end_of_therapy": st.one_of(st.none(), st.dates(date(2016, 1, 1), date(2018, 1, 1))),
        "on_therapy": st.sampled_from([None, False, True]),
        "sites": st.one_of(st.none(), site_sets),
        "marrow_blasts": st.one_of(st.none(), st.floats(0, 100)),
        "genetics": st.sampled_from(
            [
                Genetics(),
                Genetics(evaluated=True),
                Genetics(markers={"TP53": MarkerStatus.PRESENT}),
                Genetics(markers={"BCR-ABL1": MarkerStatus.ABSENT}),
            ]
        ),
        "birth_date": st.one_of(st.none(), st.dates(date(1998, 1, 1), date(2012, 1, 1))),
    }
)
values = st.floats(1e-6, 1e-1)


def _with_mrd(record: dict[str, Any], value: float, comparator: str = "=") -> RelapseInputs:
    return make_inputs(**record, mrd=mrd(value, comparator))


@settings(max_examples=60, deadline=None)
@given(records, values, values)
def test_more_mrd_never_lowers_risk(record: dict[str, Any], a: float, b: float) -> None:
    low, high = sorted((a, b))
    for primary in ("bfm", "allr3", "intreall"):
        before = assess(_with_mrd(record, low), AS_OF, primary)
        after = assess(_with_mrd(record, high), AS_OF, primary)
        for scheme, order in (("cog", COG_ORDER), ("inpog", INPOG_ORDER)):
            g1, g2 = before.schemes[scheme].group, after.schemes[scheme].group
            if g1 in order and g2 in order:
                assert order[g2] >= order[g1]
        p1, p2 = before.pathway, after.pathway
        if p1.plan in PLAN_ORDER and p2.plan in PLAN_ORDER and p1.rules[0] == "PATH-3":
            assert PLAN_ORDER[p2.plan] >= PLAN_ORDER[p1.plan]


@settings(max_examples=30, deadline=None)
@given(records, st.one_of(st.none(), values), st.sampled_from(["=", "<", "<=", ">", ">="]))
def test_deterministic(record: dict[str, Any], value: float | None, comparator: str) -> None:
    inputs = make_inputs(**record, mrd=None if value is None else mrd(value, comparator))
    for primary in ("bfm", "inpog"):
        assert assess(inputs, AS_OF, primary) == assess(inputs, AS_OF, primary)


@settings(max_examples=30, deadline=None)
@given(
    records,
    st.one_of(st.none(), values),
    st.one_of(st.none(), st.integers(0, 400).map(lambda d: date(2014, 1, 1) + timedelta(d))),
)
def test_declared_reads_match_full_enumeration(
    record: dict[str, Any], value: float | None, diagnosis: date | None
) -> None:
    inputs = make_inputs(
        **record, diagnosis_date=diagnosis, mrd=None if value is None else mrd(value)
    )
    space = build_space(inputs, None)
    for s in SCHEMES:
        full = decide(space, s.classify, DIMENSIONS, key=lambda cell: cell.group)
        declared = assess_scheme(s.key, space)
        assert s.reads <= DIMENSIONS
        expected = full.keys[0] if full.decided else "indeterminate"
        assert (declared.group, declared.missing) == (expected, full.missing)
