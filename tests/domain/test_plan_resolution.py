"""§4 plan resolution, PATH-0 and PATH-6: truth tables derived by hand from risk-schemes.md.

Each case names the primary scheme, the record and the plan the spec gives. Records are
B lineage and genetics evaluated (no marker) unless the case says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain import assess
from service.domain.facts import age_at_diagnosis, build_space
from service.domain.inputs import Genetics, Lineage, MarkerStatus, Site
from service.domain.pathway import pathway_for
from service.domain.schemes import assess_scheme, scheme_keys
from service.domain.thresholds import Comparator
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)
UNTESTED = Genetics()
TP53 = Genetics(evaluated=True, markers={"TP53": MarkerStatus.PRESENT})
BCR_ABL1 = Genetics(evaluated=True, markers={"BCR-ABL1": MarkerStatus.PRESENT})
CHEMO, MRD, HSCT, INDET = "chemotherapy", "mrd_directed", "chemotherapy_then_hsct", "indeterminate"

# Records by name: (timing, pattern, overrides). "eot-unknown" keeps the late relapse date
# (48 months after diagnosis, so COG timing is late with the marrow involved).
RECORDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "late-marrow-mrd-unknown": ("late", "isolated_marrow", {"mrd": None}),
    "very-early-marrow-mrd-unknown": ("very_early", "isolated_marrow", {"mrd": None}),
    "late-cns-mrd-unknown": ("late", "isolated_extramedullary", {"mrd": None}),
    "eot-unknown-mrd-low": ("late", "isolated_marrow", {"end_of_therapy": None, "mrd": mrd(5e-5)}),
    "eot-unknown-mrd-high": ("late", "isolated_marrow", {"end_of_therapy": None, "mrd": mrd(2e-3)}),
    "genetics-untested-mrd-low": (
        "late",
        "isolated_marrow",
        {"genetics": UNTESTED, "mrd": mrd(5e-5)},
    ),
    "genetics-untested-very-early": (
        "very_early",
        "isolated_marrow",
        {"genetics": UNTESTED, "mrd": None},
    ),
    "mrd-lt-0.1pct": ("late", "isolated_marrow", {"mrd": mrd(1e-3, "<")}),
}
# (record, primary) → (plan, threshold, decided_by)
TABLE: dict[tuple[str, str], tuple[str, float | None, tuple[str, ...]]] = {
    # PATH-3 (BFM S2, ALLR3 intermediate, IntReALL standard with marrow); COG low/intermediate
    # at 1e-3; InPOG standard/high at 1e-4 (late B marrow).
    ("late-marrow-mrd-unknown", "bfm"): (MRD, 1e-3, ("mrd",)),
    ("late-marrow-mrd-unknown", "allr3"): (MRD, 1e-4, ("mrd",)),
    ("late-marrow-mrd-unknown", "cog"): (MRD, 1e-3, ("mrd",)),
    ("late-marrow-mrd-unknown", "intreall"): (MRD, 1e-3, ("mrd",)),
    ("late-marrow-mrd-unknown", "inpog"): (MRD, 1e-4, ("mrd",)),
    # High risk in every scheme: the missing MRD changes nothing.
    ("very-early-marrow-mrd-unknown", "bfm"): (HSCT, None, ()),
    ("very-early-marrow-mrd-unknown", "allr3"): (HSCT, None, ()),
    ("very-early-marrow-mrd-unknown", "cog"): (HSCT, None, ()),
    ("very-early-marrow-mrd-unknown", "intreall"): (HSCT, None, ()),
    ("very-early-marrow-mrd-unknown", "inpog"): (HSCT, None, ()),
    # Late isolated CNS: standard everywhere but COG, where any late B site turns on MRD.
    ("late-cns-mrd-unknown", "bfm"): (CHEMO, None, ()),
    ("late-cns-mrd-unknown", "allr3"): (CHEMO, None, ()),
    ("late-cns-mrd-unknown", "cog"): (MRD, 1e-3, ("mrd",)),
    ("late-cns-mrd-unknown", "intreall"): (CHEMO, None, ()),
    ("late-cns-mrd-unknown", "inpog"): (CHEMO, None, ()),
    # End of therapy unknown, MRD 5e-5: early is high risk (HSCT), late is MRD-low (chemotherapy);
    # COG's timing does not use it (late: low).
    ("eot-unknown-mrd-low", "bfm"): (INDET, None, ("end_of_therapy",)),
    ("eot-unknown-mrd-low", "allr3"): (INDET, None, ("end_of_therapy",)),
    ("eot-unknown-mrd-low", "cog"): (CHEMO, None, ()),
    ("eot-unknown-mrd-low", "intreall"): (INDET, None, ("end_of_therapy",)),
    ("eot-unknown-mrd-low", "inpog"): (INDET, None, ("end_of_therapy",)),
    # The same with MRD 2e-3: HSCT either way (§4's example: BFM S2 or S3 with MRD ≥ 1e-3).
    ("eot-unknown-mrd-high", "bfm"): (HSCT, None, ()),
    ("eot-unknown-mrd-high", "allr3"): (HSCT, None, ()),
    ("eot-unknown-mrd-high", "cog"): (HSCT, None, ()),
    ("eot-unknown-mrd-high", "intreall"): (HSCT, None, ()),
    ("eot-unknown-mrd-high", "inpog"): (HSCT, None, ()),
    # Genetics not tested: TP53 (PATH-6) would turn any chemotherapy plan into HSCT.
    ("genetics-untested-mrd-low", "bfm"): (INDET, None, ("genetics",)),
    ("genetics-untested-mrd-low", "allr3"): (INDET, None, ("genetics",)),
    ("genetics-untested-mrd-low", "cog"): (INDET, None, ("genetics",)),
    ("genetics-untested-mrd-low", "intreall"): (INDET, None, ("genetics",)),
    ("genetics-untested-mrd-low", "inpog"): (INDET, None, ("genetics",)),
    ("genetics-untested-very-early", "bfm"): (HSCT, None, ()),
    ("genetics-untested-very-early", "inpog"): (HSCT, None, ()),
    # '<0.1%': below 1e-3, unknown against 1e-4.
    ("mrd-lt-0.1pct", "bfm"): (CHEMO, None, ()),
    ("mrd-lt-0.1pct", "allr3"): (MRD, 1e-4, ("mrd",)),
    ("mrd-lt-0.1pct", "cog"): (CHEMO, None, ()),
    ("mrd-lt-0.1pct", "inpog"): (MRD, 1e-4, ("mrd",)),
}


@pytest.mark.parametrize(
    ("record", "primary"), [pytest.param(r, p, id=f"PLAN-{r}-{p}") for r, p in TABLE]
)
def test_plan_resolution_truth_table(record: str, primary: str) -> None:
    timing, pattern, overrides = RECORDS[record]
    p = assess(make_inputs(timing, pattern, **overrides), AS_OF, primary).pathway
    assert (p.plan, p.threshold, p.decided_by) == TABLE[(record, primary)]
    assert p.scheme == primary
    # PATH-5 only with chemotherapy then HSCT (B lineage, marrow involved in every record).
    assert ("blinatumomab" in p.additions) == (p.plan == HSCT)
    if p.plan == INDET:
        assert p.plan_rules == ()


def test_untested_tp53_is_named_in_the_reason() -> None:
    record = make_inputs("late", "isolated_marrow", genetics=UNTESTED)
    assert "TP53" in assess(record, AS_OF).pathway.reason


def test_mrd_directed_names_the_result_and_threshold_in_the_json() -> None:
    a = assess(make_inputs("late", "isolated_marrow", mrd=None), AS_OF, "inpog")
    pathway = a.to_json()["pathway"]
    assert (pathway["plan"], pathway["threshold"], pathway["decided_by"]) == (MRD, 1e-4, ["mrd"])
    assert pathway["plan_rules"] == ["PATH-2", "PATH-4"]
    assert "post-induction MRD decides" in pathway["reason"]
    assert "≥ 0.01 %" in pathway["reason"]  # as clinicians write MRD, like the plan's words


def test_primary_indeterminate_but_one_plan_resolves() -> None:
    """§10: primary `indeterminate` but every world gives the same plan → the plan resolves."""
    a = assess(make_inputs("late", "isolated_marrow", end_of_therapy=None, mrd=mrd(2e-3)), AS_OF)
    assert a.schemes["bfm"].group == "indeterminate"
    assert (a.pathway.plan, a.pathway.plan_rules) == (HSCT, ("PATH-3", "PATH-4"))
    assert "S2 or S3" in a.pathway.reason


# PATH-0: (primary, overrides) → (scheme followed, plan, plan rules)
HANDOVER: list[Any] = [
    pytest.param(
        p, {"lineage": Lineage.MPAL}, ("inpog", HSCT, ("PATH-0", "PATH-4")), id=f"MPAL-{p}"
    )
    for p in ("bfm", "allr3", "cog", "intreall")
] + [
    pytest.param("inpog", {"lineage": Lineage.MPAL}, ("inpog", HSCT, ("PATH-4",)), id="MPAL-inpog"),
    pytest.param(
        "intreall",
        {"genetics": BCR_ABL1},
        ("bfm", CHEMO, ("PATH-0", "PATH-3")),
        id="INTREALL-BCR-ABL1-to-bfm",
    ),
    pytest.param(
        "intreall",
        {"prior_hsct": True},
        ("bfm", CHEMO, ("PATH-0", "PATH-3")),
        id="INTREALL-prior-HSCT-to-bfm",
    ),
    pytest.param(
        "intreall",
        {"genetics": UNTESTED, "mrd": mrd(2e-3)},
        ("intreall", HSCT, ("PATH-3",)),
        id="INTREALL-BCR-ABL1-untested-no-handover",
    ),
    pytest.param(
        "bfm",
        {"lineage": Lineage.MPAL, "relapse_count": 2},
        ("bfm", "relapsed_refractory", ("PATH-1",)),
        id="second-relapse-PATH-1-not-PATH-0",
    ),
]


@pytest.mark.parametrize(("primary", "overrides", "expected"), HANDOVER)
def test_path0_hands_over(
    primary: str, overrides: dict[str, Any], expected: tuple[str, str, tuple[str, ...]]
) -> None:
    # B late isolated marrow, MRD 1e-5 (BFM S2, below 1e-3).
    a = assess(make_inputs("late", "isolated_marrow", **overrides), AS_OF, primary)
    p = a.pathway
    assert (p.scheme, p.plan, p.plan_rules) == expected
    assert p.primary == primary
    assert ("PATH-0" in p.rules) == (p.scheme != primary)
    if p.scheme != primary:
        assert a.schemes[primary].group == "not_applicable"
        assert "PATH-0" in p.reason


def test_path0_mpal_with_bfm_primary_follows_inpog() -> None:
    """§10: MPAL with BFM primary → PATH-0: InPOG-ALL-R1 drives the pathway."""
    a = assess(make_inputs("late", "isolated_marrow", lineage=Lineage.MPAL), AS_OF)
    data = a.to_json()["pathway"]
    assert (data["scheme"], data["primary"], data["plan"]) == ("inpog", "bfm", HSCT)
    assert "InPOG-ALL-R1" in data["reason"]
    assert "blinatumomab" not in data["additions"]  # PATH-5 is for B lineage


# PATH-6: (timing, pattern, mrd) with TP53 present → plan rules; the plan is HSCT every time.
TP53_CASES = [
    pytest.param("late", "isolated_extramedullary", mrd(1e-5), ("PATH-2", "PATH-6"), id="chemo"),
    pytest.param("late", "isolated_marrow", None, ("PATH-3", "PATH-6"), id="mrd_directed"),
    pytest.param("late", "isolated_marrow", mrd(1e-5), ("PATH-3", "PATH-6"), id="PATH-3-low"),
    pytest.param("very_early", "isolated_marrow", None, ("PATH-4",), id="already-HSCT"),
]


@pytest.mark.parametrize(("timing", "pattern", "value", "plan_rules"), TP53_CASES)
def test_path6_tp53_turns_the_plan_into_hsct(
    timing: str, pattern: str, value: Any, plan_rules: tuple[str, ...]
) -> None:
    """§10: TP53 with an MRD-directed or chemotherapy plan → chemotherapy_then_hsct (PATH-6)."""
    p = assess(make_inputs(timing, pattern, genetics=TP53, mrd=value), AS_OF).pathway
    assert (p.plan, p.plan_rules) == (HSCT, plan_rules)
    assert "hsct_regardless_of_mrd" in p.additions
    assert "PATH-6" in p.rules
    # PATH-5 follows the resolved plan: B lineage with the marrow involved.
    assert ("blinatumomab" in p.additions) == (pattern == "isolated_marrow")


def test_path6_tp53_does_not_touch_relapsed_refractory() -> None:
    p = assess(make_inputs("late", "isolated_marrow", genetics=TP53, refractory=True), AS_OF)
    assert (p.pathway.plan, p.pathway.additions) == ("relapsed_refractory", ("supportive_care",))


def test_additions_follow_the_resolved_plan() -> None:
    # COG low (late B marrow, MRD < 1e-3): chemotherapy, so no blinatumomab although the same
    # patient is BFM S2; with MRD ≥ 1e-3 COG intermediate → HSCT → blinatumomab (PATH-5).
    low = assess(make_inputs("late", "isolated_marrow", mrd=mrd(5e-4)), AS_OF, "cog").pathway
    high = assess(make_inputs("late", "isolated_marrow", mrd=mrd(2e-3)), AS_OF, "cog").pathway
    assert (low.plan, "blinatumomab" in low.additions) == (CHEMO, False)
    assert (high.plan, "blinatumomab" in high.additions) == (HSCT, True)
    assert "PATH-5" in high.rules
    assert "PATH-5" not in low.rules


records = st.fixed_dictionaries(
    {
        "lineage": st.sampled_from([Lineage.B, Lineage.T, Lineage.MPAL, None]),
        "relapse_date": st.sampled_from(
            [None, date(2016, 1, 1), date(2017, 6, 1), date(2019, 1, 1)]
        ),
        "end_of_therapy": st.sampled_from([None, date(2017, 3, 1)]),
        "on_therapy": st.sampled_from([None, False, True]),
        "sites": st.one_of(st.none(), st.frozensets(st.sampled_from(list(Site)), min_size=1)),
        "marrow_blasts": st.sampled_from([None, 3.0, 12.0, 40.0]),
        "mrd": st.sampled_from([None, mrd(5e-5), mrd(5e-4), mrd(2e-3), mrd(1e-3, "<")]),
        "genetics": st.sampled_from([UNTESTED, Genetics(evaluated=True), TP53, BCR_ABL1]),
        "birth_date": st.sampled_from([None, date(2010, 1, 1), date(1999, 1, 1)]),
        "prior_hsct": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(records, st.sampled_from(scheme_keys()))
def test_resolving_a_missing_input_never_contradicts_the_plan(
    record: dict[str, Any], primary: str
) -> None:
    inputs = make_inputs(**record)
    space = build_space(inputs, age_at_diagnosis(inputs))
    before = pathway_for(space, primary, assess_scheme(primary, space))
    for dim in space.dims:
        if len(dim.values) < 2:
            continue
        for value in dim.values:
            narrowed = space.restrict(dim.key, (value,))
            after = pathway_for(narrowed, primary, assess_scheme(primary, narrowed))
            assert after.scheme == before.scheme
            if before.plan in (CHEMO, HSCT, "relapsed_refractory"):
                assert after.plan == before.plan
            elif before.plan == MRD:
                assert after.plan in (MRD, CHEMO, HSCT)
                if after.plan == MRD:
                    assert after.threshold == before.threshold


def _covers_mrd(value: float) -> Callable[[str], bool]:
    percent = value * 100

    def covers(condition: str) -> bool:
        for piece in condition.removeprefix("post-induction MRD ").split(" or post-induction MRD "):
            if m := re.fullmatch(r"< ([\d.]+) %", piece):
                inside = percent < float(m[1])
            elif m := re.fullmatch(r"([\d.]+) % to < ([\d.]+) %", piece):
                inside = float(m[1]) <= percent < float(m[2])
            elif m := re.fullmatch(r"≥ ([\d.]+) %", piece):
                inside = percent >= float(m[1])
            else:
                inside = piece == "whatever the post-induction MRD"
            if inside:
                return True
        return False

    return covers


def _covers_any(*phrases: str) -> Callable[[str], bool]:
    return lambda condition: any(
        piece in phrases for piece in [condition, *condition.split(" or ")]
    )


NO_TP53 = "no TP53 alteration"
ANY_MARKER = "any high-risk marker (TP53 or another)"
# With untested BCR-ABL1 documented apart (a value of its own).
NO_TP53_NO_BCR = "neither TP53 alteration nor BCR-ABL1"
ANY_BUT_BCR = "a high-risk marker other than BCR-ABL1 (TP53 included)"
KMT2A = Genetics(
    evaluated=True, markers={"TP53": MarkerStatus.ABSENT, "KMT2A": MarkerStatus.PRESENT}
)
BCR_ONLY = Genetics(
    evaluated=True, markers={"TP53": MarkerStatus.ABSENT, "BCR-ABL1": MarkerStatus.PRESENT}
)
# Each unknown input's documented values (issue 8, point 5), with the test's own reading of the
# words that describe it: one per MRD band, both lineages, genetics with no marker, KMT2A,
# BCR-ABL1 (IntReALL's exclusion, a value of its own) and TP53.
RESOLUTIONS: dict[str, tuple[tuple[str, Any, Callable[[str], bool]], ...]] = {
    "mrd": tuple(("mrd", mrd(v), _covers_mrd(v)) for v in (5e-5, 5e-4, 2e-3)),
    "lineage": tuple(
        ("lineage", lin, _covers_any(f"{lin} lineage", "whatever the lineage"))
        for lin in (Lineage.B, Lineage.T)
    ),
    "genetics": (
        (
            "genetics",
            Genetics(evaluated=True),
            _covers_any(
                "no high-risk genetic marker", NO_TP53, NO_TP53_NO_BCR, "whatever the genetics"
            ),
        ),
        (
            "genetics",
            TP53,
            _covers_any(
                "TP53 alteration present", ANY_MARKER, ANY_BUT_BCR, "whatever the genetics"
            ),
        ),
        (
            "genetics",
            KMT2A,
            _covers_any(
                "a high-risk marker other than TP53 (e.g. KMT2A, iAMP21)",
                "a high-risk marker other than TP53 and BCR-ABL1 (e.g. KMT2A, iAMP21)",
                "a high-risk marker other than TP53",
                NO_TP53,
                NO_TP53_NO_BCR,
                ANY_MARKER,
                ANY_BUT_BCR,
                "whatever the genetics",
            ),
        ),
    ),
}


def _agrees(record: dict[str, Any], field: str, value: Any) -> bool:
    """Documenting a value resolves the input only where it agrees with what is known: an MRD
    "< 0.1 %" is resolved by a number below 0.1 %, not by one above it."""
    known = record.get(field)
    if field != "mrd" or known is None or known.comparator is not Comparator.LT:
        return True
    return bool(value.value < known.value)


@settings(max_examples=60, deadline=None)
@given(records, st.sampled_from(scheme_keys()))
def test_what_would_change_says_what_documenting_the_input_gives(
    record: dict[str, Any], primary: str
) -> None:
    """Documenting a missing input gives, for each undecided group and the plan, the answer of
    the one change whose words describe the documented value."""
    before = assess(make_inputs(**record), AS_OF, primary)
    untested_bcr = before.inputs.genetics.status("BCR-ABL1") is MarkerStatus.NOT_TESTED
    for name, resolutions in RESOLUTIONS.items():
        extra = (
            (
                (
                    "genetics",
                    BCR_ONLY,
                    _covers_any(
                        "BCR-ABL1 present",
                        "a high-risk marker other than TP53",
                        NO_TP53,
                        ANY_MARKER,
                        "whatever the genetics",
                    ),
                ),
            )
            if name == "genetics" and untested_bcr and record["genetics"] is UNTESTED
            else ()
        )
        for field, value, covers in (*resolutions, *extra):
            if not _agrees(record, field, value):
                continue
            after = assess(make_inputs(**{**record, field: value}), AS_OF, primary)
            answers = {key: r.group for key, r in after.schemes.items()}
            answers["plan"] = after.pathway.plan
            targets = {key for key, r in before.schemes.items() if name in r.missing}
            if name in before.pathway.decided_by:
                targets.add("plan")
            for target in targets:
                found = [
                    c.answer
                    for c in before.changes
                    if c.target == target and name in c.inputs and covers(c.condition)
                ]
                assert found == [answers[target]], (target, value)


def test_untested_bcr_abl1_apart_is_left_out_of_the_other_genetics_words() -> None:
    # IntReALL hands a BCR-ABL1 relapse over (PATH-0): documenting it gives chemotherapy here,
    # so "no TP53 alteration" would wrongly cover it; the words that leave it out say so.
    record = make_inputs(
        relapse_date=None,
        end_of_therapy=None,
        on_therapy=None,
        sites=None,
        marrow_blasts=3.0,
        mrd=mrd(5e-5),
        genetics=UNTESTED,
    )
    changes = assess(record, AS_OF, "intreall").changes
    genetics = [
        (c.condition, c.answer) for c in changes if c.target == "plan" and c.inputs == ("genetics",)
    ]
    assert genetics == [
        ("TP53 alteration present", HSCT),
        ("BCR-ABL1 present", CHEMO),
        (NO_TP53_NO_BCR, INDET),
    ]
