"""risk-schemes.md §10, "Decisions taken on questions raised while building": the domain's rows.

One test per row (test names say which); the mapping rows are in tests/mappings/test_decisions.py,
the OperationOutcome row in tests/cds_hooks/test_prefetch.py and the FHIR servers row in
tests/cds_hooks/test_servers.py.
"""

from __future__ import annotations

from datetime import date

from service.domain import assess
from service.domain.inputs import Genetics, Lineage, MarkerStatus, Site
from service.domain.schemes.intreall import UNTESTED_BCR_ABL1_NOTE
from service.domain.sites import read_sites
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)


def test_s10_intreall_with_bcr_abl1_never_tested_keeps_its_group_and_names_it() -> None:
    # B late isolated marrow: IntReALL standard, whatever the untested BCR-ABL1 could be.
    a = assess(make_inputs("late", "isolated_marrow", genetics=Genetics()), AS_OF)
    intreall = a.schemes["intreall"]
    assert (intreall.group, intreall.missing) == ("standard", ())
    assert intreall.notes == (UNTESTED_BCR_ABL1_NOTE,)
    assert "BCR-ABL1" in UNTESTED_BCR_ABL1_NOTE
    assert "not tested" in UNTESTED_BCR_ABL1_NOTE
    # Tested: the note goes; documented present: the exclusion applies.
    tested = assess(make_inputs("late", "isolated_marrow"), AS_OF).schemes["intreall"]
    assert tested.notes == ()
    positive = Genetics(evaluated=True, markers={"BCR-ABL1": MarkerStatus.PRESENT})
    excluded = assess(make_inputs("late", "isolated_marrow", genetics=positive), AS_OF)
    assert excluded.schemes["intreall"].group == "not_applicable"


def test_s10_primary_indeterminate_but_every_world_gives_one_plan_resolves() -> None:
    # End of therapy unknown: BFM S2 or S3; MRD 2e-3 ≥ 1e-3 → chemotherapy then HSCT either way.
    a = assess(make_inputs("late", "isolated_marrow", end_of_therapy=None, mrd=mrd(2e-3)), AS_OF)
    assert a.schemes["bfm"].group == "indeterminate"
    assert a.pathway.plan == "chemotherapy_then_hsct"


def test_s10_tp53_with_mrd_directed_or_chemotherapy_plan_is_hsct() -> None:
    tp53 = Genetics(evaluated=True, markers={"TP53": MarkerStatus.PRESENT})
    chemo = assess(make_inputs("late", "isolated_extramedullary", genetics=tp53), AS_OF).pathway
    directed = assess(make_inputs("late", "isolated_marrow", genetics=tp53, mrd=None), AS_OF)
    for p in (chemo, directed.pathway):
        assert p.plan == "chemotherapy_then_hsct"
        assert "PATH-6" in p.plan_rules


def test_s10_mpal_with_bfm_primary_follows_inpog_by_path0() -> None:
    p = assess(make_inputs("late", "isolated_marrow", lineage=Lineage.MPAL), AS_OF, "bfm").pathway
    assert (p.primary, p.scheme, p.plan) == ("bfm", "inpog", "chemotherapy_then_hsct")
    assert "PATH-0" in p.rules


def test_s10_second_relapse_inpog_not_applicable() -> None:
    a = assess(make_inputs("late", "isolated_marrow", relapse_count=2), AS_OF, "inpog")
    assert a.schemes["inpog"].group == "not_applicable"
    assert a.pathway.plan == "relapsed_refractory"


def test_s10_m3_blasts_without_a_coded_site_is_indeterminate() -> None:
    reading = read_sites(None, 40.0)
    assert reading.pattern == "indeterminate"
    assert {"isolated_marrow", "combined"} == {
        "isolated_marrow" if s == {Site.MARROW} else "combined" for s in reading.possible
    }


def test_s10_coded_marrow_with_m2_alone_trusts_the_code_and_warns() -> None:
    reading = read_sites(frozenset({Site.MARROW}), 10.0)
    assert reading.pattern == "isolated_marrow"
    assert any("coded site is used" in w for w in reading.warnings)


def test_s10_evidence_is_chosen_by_population() -> None:
    # Late B marrow relapse: the late-marrow figures; an isolated testis relapse: the testis ones.
    marrow = assess(make_inputs("late", "isolated_marrow"), AS_OF).pathway.evidence
    testis = make_inputs("late", sites=frozenset({Site.TESTIS}))
    assert {"EV-R3-1", "EV-AALL0433"} <= set(marrow)
    assert "EV-COG-2" not in marrow
    assert "EV-COG-2" in assess(testis, AS_OF).pathway.evidence
