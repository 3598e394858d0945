"""§3: a missing input that cannot change the group is not needed; otherwise `indeterminate`
naming the inputs that make the difference. Also status, age and what would change."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.domain import assess
from service.domain.assessment import Change
from service.domain.inputs import Genetics, Lineage, Site
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)
UNTESTED = Genetics()
# (scheme, inputs overrides, timing, pattern, (expected group, expected missing))
CASES = [
    pytest.param(
        "bfm", {"lineage": None}, "very_early", "combined", ("S4", ()), id="lineage-same-S4"
    ),
    pytest.param(
        "bfm",
        {"lineage": None},
        "early",
        "combined",
        ("indeterminate", ("lineage",)),
        id="lineage-S2-or-S4",
    ),
    pytest.param(
        "bfm",
        {"lineage": None},
        "late",
        "isolated_extramedullary",
        ("S1", ()),
        id="lineage-same-S1",
    ),
    pytest.param(
        "cog",
        {"lineage": None, "mrd": None},
        "early",
        "isolated_marrow",
        ("high", ()),
        id="cog-lineage-early-high",
    ),
    pytest.param(
        "bfm",
        {"lineage": Lineage.T, "end_of_therapy": None},
        "late",
        "isolated_marrow",
        ("S4", ()),
        id="eot-T-marrow-S4",
    ),
    pytest.param(
        "bfm",
        {"end_of_therapy": None},
        "late",
        "isolated_extramedullary",
        ("indeterminate", ("end_of_therapy",)),
        id="eot-S1-or-S2",
    ),
    pytest.param(
        "bfm",
        {"lineage": Lineage.T, "diagnosis_date": None},
        "late",
        "isolated_marrow",
        ("S4", ()),
        id="dx-T-marrow-S4",
    ),
    pytest.param(
        "bfm",
        {"relapse_date": None},
        "late",
        "isolated_marrow",
        ("indeterminate", ("relapse_date",)),
        id="relapse-date",
    ),
    pytest.param(
        "intreall",
        {"diagnosis_date": None},
        "early",
        "isolated_marrow",
        ("high", ()),
        id="dx-intreall-B-early-IM-high",
    ),
    pytest.param(
        "cog",
        {"lineage": Lineage.T, "sites": None},
        "late",
        None,
        ("high", ()),
        id="sites-cog-T-high",
    ),
    pytest.param(
        "bfm",
        {"lineage": Lineage.T, "sites": None},
        "late",
        None,
        ("indeterminate", ("sites", "marrow_blasts")),
        id="sites-blasts-T-late",
    ),
    pytest.param(
        "bfm",
        {"sites": None, "marrow_blasts": 40.0},
        "very_early",
        None,
        ("S4", ()),
        id="M3-no-site-S4",
    ),
    pytest.param(
        "bfm",
        {"sites": None, "marrow_blasts": 40.0},
        "early",
        None,
        ("indeterminate", ("sites",)),
        id="M3-no-site-S2-or-S3",
    ),
    pytest.param(
        "bfm",
        {"sites": None, "marrow_blasts": 10.0},
        "late",
        None,
        ("S2", ()),
        id="M2-alone-B-late-S2",
    ),
    pytest.param(
        "cog", {"mrd": None}, "late", "isolated_marrow", ("indeterminate", ("mrd",)), id="mrd-cog"
    ),
    pytest.param(
        "cog", {"mrd": mrd(1e-3, "<")}, "late", "isolated_marrow", ("low", ()), id="mrd-lt-cog-low"
    ),
    pytest.param(
        "cog",
        {"mrd": mrd(1e-3, "<=")},
        "late",
        "isolated_marrow",
        ("indeterminate", ("mrd",)),
        id="mrd-le-cog",
    ),
    pytest.param(
        "cog",
        {"mrd": mrd(5e-4, ">")},
        "late",
        "isolated_marrow",
        ("indeterminate", ("mrd",)),
        id="mrd-gt-cog",
    ),
    pytest.param(
        "cog",
        {"mrd": mrd(2e-3, ">=")},
        "late",
        "isolated_marrow",
        ("intermediate", ()),
        id="mrd-ge-cog",
    ),
    pytest.param(
        "inpog",
        {"genetics": UNTESTED},
        "late",
        "isolated_extramedullary",
        ("indeterminate", ("genetics",)),
        id="genetics-inpog",
    ),
    pytest.param(
        "inpog",
        {"birth_date": None},
        "late",
        "isolated_extramedullary",
        ("indeterminate", ("birth_date",)),
        id="age-inpog",
    ),
    pytest.param(
        "inpog",
        {"birth_date": None, "genetics": UNTESTED},
        "early",
        "combined",
        ("high", ()),
        id="age-genetics-early-marrow-high",
    ),
    pytest.param(
        "intreall",
        {"genetics": UNTESTED},
        "late",
        "isolated_marrow",
        ("standard", ()),  # §10: an untested exclusion leaves the group standing
        id="genetics-intreall-bcr-abl1-untested",
    ),
    pytest.param(
        "bfm",
        {"genetics": UNTESTED, "mrd": None, "birth_date": None},
        "late",
        "combined",
        ("S2", ()),
        id="bfm-ignores-unread",
    ),
]


@pytest.mark.parametrize(("scheme", "overrides", "timing", "pattern", "expected"), CASES)
def test_missing(
    scheme: str,
    overrides: dict[str, Any],
    timing: str,
    pattern: str | None,
    expected: tuple[str, tuple[str, ...]],
) -> None:
    result = assess(make_inputs(timing, pattern, **overrides), AS_OF).schemes[scheme]
    assert (result.group, result.missing) == expected


def test_indeterminate_reason_names_groups_and_inputs() -> None:
    result = assess(make_inputs("early", "combined", lineage=None), AS_OF).schemes["bfm"]
    assert result.reason == "S2 or S4 depending on lineage."


def test_everything_unknown() -> None:
    a = assess(make_inputs(lineage=None, diagnosis_date=None, relapse_date=None, sites=None), AS_OF)
    assert a.timing.bfm == a.timing.cog == a.timing.call0603 == "indeterminate"
    assert a.site_pattern == "indeterminate"
    assert all(r.group == "indeterminate" for r in a.schemes.values())
    assert a.pathway.plan == "indeterminate"


@pytest.mark.parametrize(
    ("overrides", "status"),
    [({"has_all": False}, "no_all"), ({"relapsed": False}, "no_relapse")],
)
def test_without_relapse_every_scheme_not_applicable(
    overrides: dict[str, Any], status: str
) -> None:
    a = assess(make_inputs(**overrides), AS_OF)
    assert a.status == status
    assert {r.group for r in a.schemes.values()} == {"not_applicable"}
    assert all(r.reason for r in a.schemes.values())
    assert a.pathway.plan == "indeterminate"


def test_age_in_completed_years() -> None:
    born = date(2005, 6, 15)
    young = assess(make_inputs(birth_date=born, diagnosis_date=date(2020, 6, 14)), AS_OF)
    old = assess(make_inputs(birth_date=born, diagnosis_date=date(2020, 6, 15)), AS_OF)
    assert (young.age_at_diagnosis, old.age_at_diagnosis) == (14, 15)


def test_marrow_conflict_is_a_warning() -> None:
    a = assess(make_inputs(sites=frozenset({Site.MARROW}), marrow_blasts=1.0), AS_OF)
    assert a.site_pattern == "isolated_marrow"
    assert any("blasts" in w for w in a.warnings)


def test_changes_missing_mrd_for_bfm_s2() -> None:
    a = assess(make_inputs("late", "isolated_marrow", mrd=None), AS_OF)
    assert {c.condition: (c.input, c.effect) for c in a.changes} == {
        "post-induction MRD < 1e-4": ("mrd", "plan: chemotherapy (PATH-3)"),
        "post-induction MRD 1e-4 to < 1e-3": ("mrd", "plan: chemotherapy (PATH-3)"),
        "post-induction MRD ≥ 1e-3": ("mrd", "plan: chemotherapy_then_hsct (PATH-3)"),
    }


def test_no_changes_when_everything_that_matters_is_known() -> None:
    # Genetics not tested and birth date unknown: neither changes BFM S2 with MRD known, except
    # through TP53 (PATH-6), which an evaluated genetics rules out here.
    assert assess(make_inputs("late", "isolated_marrow", birth_date=None), AS_OF).changes == ()


def test_changes_untested_tp53_for_a_chemotherapy_plan() -> None:
    a = assess(make_inputs("late", "isolated_marrow", genetics=UNTESTED), AS_OF)
    assert a.pathway.plan == "indeterminate"
    assert {c.condition: c.effect for c in a.changes} == {
        "no high-risk genetic marker": "plan: chemotherapy (PATH-3)",
        "a high-risk marker other than TP53 (e.g. BCR-ABL1, KMT2A)": "plan: chemotherapy (PATH-3)",
        "TP53 alteration present": "plan: chemotherapy_then_hsct (PATH-3, PATH-6)",
    }


def test_changes_unknown_lineage() -> None:
    a = assess(make_inputs("early", "combined", lineage=None, mrd=mrd(1e-5)), AS_OF)
    assert set(a.changes) == {
        Change("lineage", "B lineage", "BFM: S2 (BFM-B); plan: chemotherapy (PATH-3)"),
        Change("lineage", "T lineage", "BFM: S4 (BFM-T); plan: chemotherapy_then_hsct (PATH-4)"),
    }


def test_changes_untested_genetics_inpog() -> None:
    a = assess(make_inputs("late", "isolated_extramedullary", genetics=UNTESTED), AS_OF, "inpog")
    effects = {c.condition: c.effect for c in a.changes if c.input == "genetics"}
    assert effects["no high-risk genetic marker"] == (
        "InPOG-ALL-R1: standard (INPOG); plan: chemotherapy (PATH-2)"
    )
    assert effects["a high-risk marker other than TP53 (e.g. BCR-ABL1, KMT2A)"].startswith(
        "InPOG-ALL-R1: high"
    )


def test_changes_unknown_end_of_therapy() -> None:
    a = assess(make_inputs("late", "isolated_marrow", end_of_therapy=None), AS_OF)
    assert {c.condition: c.effect for c in a.changes if c.input == "end_of_therapy"} == {
        "relapse < 6 months after the end of frontline therapy (or on therapy)": (
            "BFM: S3 (BFM-B); plan: chemotherapy_then_hsct (PATH-4)"
        ),
        "relapse ≥ 6 months after the end of frontline therapy": (
            "BFM: S2 (BFM-B); plan: chemotherapy (PATH-3)"
        ),
    }
