"""PATH-1…PATH-9 (risk-schemes.md §4) and primary scheme switching."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain import assess, primary_schemes
from service.domain.inputs import Genetics, Lineage, MarkerStatus, Site
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)
TP53 = Genetics(evaluated=True, markers={"TP53": MarkerStatus.PRESENT})


def test_path1_second_relapse_relapsed_refractory_with_supportive_care_only() -> None:
    p = assess(make_inputs("very_early", "combined", relapse_count=2, genetics=TP53), AS_OF).pathway
    assert (p.plan, p.additions, p.rules) == (
        "relapsed_refractory",
        ("supportive_care",),
        ("PATH-1", "PATH-9"),
    )


def test_path1_refractory_first_relapse_overrides_the_scheme() -> None:
    a = assess(make_inputs("late", "isolated_extramedullary", refractory=True), AS_OF)
    assert a.schemes["bfm"].group == "S1"
    assert a.pathway.plan == "relapsed_refractory"
    assert a.pathway.rules == ("PATH-1", "PATH-9")


def test_path2_bfm_s1_chemotherapy_with_cranial_irradiation() -> None:
    p = assess(make_inputs("late", "isolated_extramedullary"), AS_OF).pathway
    assert p.plan == "chemotherapy"
    assert p.additions == ("cranial_irradiation", "supportive_care")
    assert p.rules == ("PATH-2", "PATH-7", "PATH-9")


@pytest.mark.parametrize(
    ("primary", "value", "comparator", "plan"),
    [
        pytest.param("bfm", 9e-4, "=", "chemotherapy", id="BFM-S2-below-1e-3"),
        pytest.param("bfm", 1e-3, "=", "chemotherapy_then_hsct", id="BFM-S2-at-1e-3"),
        pytest.param("allr3", 9e-4, "=", "chemotherapy_then_hsct", id="ALLR3-int-above-1e-4"),
        pytest.param("allr3", 9e-5, "=", "chemotherapy", id="ALLR3-int-below-1e-4"),
        pytest.param("allr3", 1e-3, "<", "mrd_directed", id="ALLR3-lt-0.1pct-is-unknown"),
        pytest.param("bfm", 1e-3, "<", "chemotherapy", id="BFM-lt-0.1pct-is-below"),
        pytest.param("intreall", 2e-3, "=", "chemotherapy_then_hsct", id="INTREALL-std-marrow"),
    ],
)
def test_path3_mrd_decides(primary: str, value: float, comparator: str, plan: str) -> None:
    inputs = make_inputs("late", "isolated_marrow", mrd=mrd(value, comparator))
    p = assess(inputs, AS_OF, primary).pathway
    assert p.plan == plan
    assert p.rules[0] == "PATH-3"
    assert p.decided_by == (("mrd",) if plan == "mrd_directed" else ())
    assert ("blinatumomab" in p.additions) == (plan == "chemotherapy_then_hsct")


def test_path3_unknown_mrd_is_mrd_directed() -> None:
    p = assess(make_inputs("late", "combined", mrd=None), AS_OF).pathway
    assert (p.plan, p.decided_by) == ("mrd_directed", ("mrd",))
    assert p.rules == ("PATH-3", "PATH-7", "PATH-9")
    assert "blinatumomab" not in p.additions


def test_path2_intreall_standard_without_marrow_needs_no_mrd() -> None:
    p = assess(make_inputs("late", "isolated_extramedullary", mrd=None), AS_OF, "intreall").pathway
    assert (p.plan, p.rules[0]) == ("chemotherapy", "PATH-2")


def test_path4_and_path5_b_lineage_marrow() -> None:
    p = assess(make_inputs("very_early", "isolated_marrow"), AS_OF).pathway
    assert p.plan == "chemotherapy_then_hsct"
    assert p.additions == ("blinatumomab", "supportive_care")
    assert p.rules == ("PATH-4", "PATH-5", "PATH-9")


def test_path5_not_for_t_lineage_path8_instead() -> None:
    p = assess(make_inputs("very_early", "isolated_marrow", lineage=Lineage.T), AS_OF).pathway
    assert p.additions == ("t_lineage_agents", "supportive_care")
    assert p.rules == ("PATH-4", "PATH-8", "PATH-9")


def test_path5_not_without_marrow() -> None:
    p = assess(make_inputs("very_early", "isolated_extramedullary"), AS_OF, "inpog").pathway
    assert p.plan == "chemotherapy_then_hsct"
    assert "blinatumomab" not in p.additions


def test_path6_tp53() -> None:
    p = assess(make_inputs("late", "isolated_extramedullary", genetics=TP53), AS_OF).pathway
    assert "hsct_regardless_of_mrd" in p.additions
    assert "PATH-6" in p.rules


def test_path7_testis_and_cns_in_order() -> None:
    sites = frozenset({Site.TESTIS, Site.CNS, Site.MARROW})
    p = assess(make_inputs("very_early", sites=sites), AS_OF).pathway
    assert p.additions == (
        "blinatumomab",
        "cranial_irradiation",
        "testicular_local_therapy",
        "supportive_care",
    )
    assert p.rules == ("PATH-4", "PATH-5", "PATH-7", "PATH-9")


def test_addition_listed_only_when_known() -> None:
    # M3 blasts, no site coded: CNS involvement unknown, so no cranial irradiation.
    inputs = make_inputs("very_early", sites=None, marrow_blasts=60.0)
    p = assess(inputs, AS_OF).pathway
    assert p.plan == "chemotherapy_then_hsct"
    assert "cranial_irradiation" not in p.additions
    assert "blinatumomab" in p.additions


def test_primary_indeterminate_plan_indeterminate_names_inputs() -> None:
    # B: S2, MRD decides; T: S4, HSCT. Neither lineage nor MRD alone decides.
    p = assess(make_inputs("late", "isolated_marrow", lineage=None, mrd=None), AS_OF).pathway
    assert p.plan == "indeterminate"
    assert p.decided_by == ("lineage", "mrd")
    assert p.plan_rules == ()
    assert p.rules[-1] == "PATH-9"


def test_primary_switching() -> None:
    # B late isolated marrow, MRD 5e-4: BFM S2 below 1e-3, ALLR3 above 1e-4, COG low,
    # InPOG high (MRD ≥ 1e-4).
    inputs = make_inputs("late", "isolated_marrow", mrd=mrd(5e-4))
    plans = {p: assess(inputs, AS_OF, p).pathway for p in primary_schemes()}
    assert {p: (v.scheme, v.plan) for p, v in plans.items()} == {
        "bfm": ("bfm", "chemotherapy"),
        "allr3": ("allr3", "chemotherapy_then_hsct"),
        "cog": ("cog", "chemotherapy"),
        "intreall": ("intreall", "chemotherapy"),
        "inpog": ("inpog", "chemotherapy_then_hsct"),
    }
    assert plans["cog"].rules[0] == "PATH-2"


def test_cog_intermediate_is_path4() -> None:
    p = assess(make_inputs("late", "isolated_marrow", mrd=mrd(2e-3)), AS_OF, "cog").pathway
    assert (p.plan, p.rules[0]) == ("chemotherapy_then_hsct", "PATH-4")


def test_unknown_primary_rejected() -> None:
    with pytest.raises(ValueError, match="primary"):
        assess(make_inputs(), AS_OF, "bfm2")
