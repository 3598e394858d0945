"""§3: a missing input that cannot change the group is not needed; otherwise `indeterminate`
naming the inputs that make the difference. Also status, age and what would change."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.domain import assess
from service.domain.assessment import Assessment
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


def _changes(a: Assessment, target: str, input_name: str | None = None) -> dict[str, Any]:
    """condition → (answer, rules, still missing) for one target (and one input)."""
    return {
        c.condition: (c.answer, c.rules, c.still_missing)
        for c in a.changes
        if c.target == target and (input_name is None or input_name in c.inputs)
    }


def test_changes_name_every_undecided_scheme_not_only_the_primary() -> None:
    # Issue 8 point 5: BFM S2 with MRD pending; InPOG-ALL-R1 (threshold 1e-4) and COG (1e-3)
    # are undetermined for want of MRD, and say which MRD gives which group.
    a = assess(make_inputs("late", "isolated_marrow", mrd=None), AS_OF)
    assert a.pathway.plan == "mrd_directed"
    assert _changes(a, "inpog") == {
        "post-induction MRD < 0.01 %": ("standard", ("INPOG",), ()),
        "post-induction MRD ≥ 0.01 %": ("high", ("INPOG",), ()),
    }
    assert _changes(a, "cog") == {
        "post-induction MRD < 0.1 %": ("low", ("COG",), ()),
        "post-induction MRD ≥ 0.1 %": ("intermediate", ("COG",), ()),
    }
    # The plan: PATH-3 at BFM's 1e-3; the two bands below it give one answer, written once.
    assert _changes(a, "plan") == {
        "post-induction MRD < 0.1 %": ("chemotherapy", ("PATH-3",), ()),
        "post-induction MRD ≥ 0.1 %": ("chemotherapy_then_hsct", ("PATH-3",), ()),
    }
    assert {c.target for c in a.changes} == {"plan", "cog", "inpog"}  # the decided ones: none


def test_no_changes_when_everything_that_matters_is_known() -> None:
    # Birth date unknown: BFM S2 with MRD 1e-5 and the plan stand; only InPOG-ALL-R1 reads
    # the age (≥ 15 years at diagnosis → high).
    a = assess(make_inputs("late", "isolated_marrow", birth_date=None), AS_OF)
    assert {c.target for c in a.changes} == {"inpog"}
    assert _changes(a, "inpog") == {
        "age < 15 years at diagnosis": ("standard", ("INPOG",), ()),
        "age ≥ 15 years at diagnosis": ("high", ("INPOG",), ()),
    }
    complete = assess(make_inputs("late", "isolated_marrow"), AS_OF)
    assert complete.changes == ()


def test_changes_untested_tp53_for_a_chemotherapy_plan() -> None:
    a = assess(make_inputs("late", "isolated_marrow", genetics=UNTESTED), AS_OF)
    assert a.pathway.plan == "indeterminate"
    assert _changes(a, "plan") == {
        "no TP53 alteration": ("chemotherapy", ("PATH-3",), ()),
        "TP53 alteration present": ("chemotherapy_then_hsct", ("PATH-3", "PATH-6"), ()),
    }
    # InPOG-ALL-R1 (MRD 1e-5 known): standard only without a high-risk marker.
    assert _changes(a, "inpog") == {
        "no high-risk genetic marker": ("standard", ("INPOG",), ()),
        "any high-risk marker (TP53 or another)": ("high", ("INPOG",), ()),
    }


def test_changes_unknown_lineage() -> None:
    a = assess(make_inputs("early", "combined", lineage=None, mrd=mrd(1e-5)), AS_OF)
    assert _changes(a, "bfm") == {
        "B lineage": ("S2", ("BFM-B",), ()),
        "T lineage": ("S4", ("BFM-T",), ()),
    }
    assert _changes(a, "plan") == {
        "B lineage": ("chemotherapy", ("PATH-3",), ()),
        "T lineage": ("chemotherapy_then_hsct", ("PATH-4",), ()),
    }


def test_values_that_leave_the_answer_open_are_one_change_naming_what_is_still_missing() -> None:
    # Relapse date and MRD unknown: an isolated marrow relapse < 36 months after diagnosis is
    # COG early → high whatever the MRD; a later one still needs the MRD.
    a = assess(
        make_inputs("late", "isolated_marrow", relapse_date=None, end_of_therapy=None, mrd=None),
        AS_OF,
    )
    dx = _changes(a, "cog", "relapse_date")
    assert dx == {
        "relapse < 36 months after diagnosis": ("high", ("COG",), ()),
        "relapse ≥ 36 months after diagnosis": ("indeterminate", ("COG",), ("mrd",)),
    }  # COG never reads the time from the end of therapy, which the relapse date also sets
    # MRD alone never decides COG here: one change, whatever the value.
    assert _changes(a, "cog", "mrd") == {
        "whatever the post-induction MRD": ("indeterminate", ("COG",), ("relapse_date",))
    }


def test_changes_sites_named_by_pattern_when_the_whole_pattern_agrees() -> None:
    # B lineage, late; sites unknown. InPOG-ALL-R1 (MRD 1e-5): every late isolated
    # extramedullary or marrow relapse with low MRD is standard.
    a = assess(make_inputs("late", sites=None, marrow_blasts=None), AS_OF, "inpog")
    conditions = _changes(a, "bfm", "sites")
    assert conditions["isolated extramedullary relapse"] == ("S1", ("BFM-B",), ())
    assert conditions["isolated marrow relapse or combined relapse"] == ("S2", ("BFM-B",), ())


@pytest.mark.parametrize(
    ("diagnosis", "group"),
    [(date(2018, 1, 1), "high"), (date(2015, 1, 1), "standard")],
    ids=["12-months", "48-months"],
)
def test_a_missing_date_that_sets_two_inputs_is_varied_as_one(diagnosis: date, group: str) -> None:
    # The diagnosis date sets the time to relapse and the age at diagnosis (InPOG-ALL-R1 reads
    # both); born 2010, relapse 2019-01-01: any diagnosis date gives an age < 15, so the change
    # names the time alone and never "also needs date of diagnosis".
    a = assess(make_inputs("late", "isolated_marrow", diagnosis_date=None), AS_OF, "inpog")
    assert _changes(a, "inpog") == {
        "relapse < 18 months after diagnosis": ("high", ("INPOG",), ()),
        "relapse ≥ 18 months after diagnosis": ("standard", ("INPOG",), ()),
    }
    documented = assess(make_inputs("late", "isolated_marrow", diagnosis_date=diagnosis), AS_OF)
    assert documented.schemes["inpog"].group == group
