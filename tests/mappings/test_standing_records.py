"""Results that replace others, and results not yet final (fhir-contract.md, "The leukemia"): of
marrow blasts at relapse, karyotypes and genomic results linked by an identifier or an id, only
those that stand are read, in any order; a preliminary Observation read into an input is marked
on the card and in the app, as the preliminary MRD is (test_mrd_records.py)."""

from __future__ import annotations

from datetime import date
from itertools import permutations
from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.extract import extract
from service.cards import build_cards
from service.domain.inputs import MarkerStatus
from service.engine import EngineResult, assess_resources
from service.smart.view import build_page
from tests.mappings.builders import (
    CM,
    LOINC,
    OWN,
    cc,
    diagnosis,
    observation,
    patient,
    relapse,
)

GENE_ID = "http://www.genenames.org/geneId"
AS_OF = date(2021, 8, 1)
ACCESSION = "urn:oid:1.2.840.114350.1.13.0.1.7.2.798268"  # an accession number system
MARK = "(preliminary result)"
CARD_MARK = "preliminary result"  # the card's Markdown escapes the brackets


def _as(
    r: dict[str, Any], status: str, accession: str | None = None, issued: str | None = None
) -> dict[str, Any]:
    r = r | {"status": status}
    if accession is not None:
        r["identifier"] = [{"system": ACCESSION, "value": accession}]
    if issued is not None:
        r["issued"] = issued
    return r


def _eot() -> dict[str, Any]:
    return observation("eot", cc(OWN, "end-of-frontline-therapy"), "2020-05-01", valueBoolean=True)


def _cns_relapse() -> list[dict[str, Any]]:
    """A late relapse coded in the CNS alone: the marrow blasts decide isolated or combined."""
    return [patient(), diagnosis(), relapse("rel", "2021-06-15", "21483005"), _eot()]


def _blasts(rid: str, percent: str, day: str = "2021-06-15") -> dict[str, Any]:
    return observation(rid, cc(OWN, "marrow-blasts"), day, valueString=percent)


def _karyotype(rid: str, iscn: str) -> dict[str, Any]:
    return observation(rid, cc(LOINC, "62356-1"), "2018-03-12", valueString=iscn)


def _tp53(rid: str, answer: str) -> dict[str, Any]:
    """A TP53 variant result: LA9633-4 present, LA9634-2 absent."""
    gene = {"code": cc(LOINC, "48018-6"), "valueCodeableConcept": cc(GENE_ID, "HGNC:11998")}
    return observation(
        rid,
        cc(LOINC, "69548-6"),
        "2018-03-14",
        component=[gene],
        valueCodeableConcept=cc(LOINC, answer),
    )


def _in_every_order(*resources: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [list(p) for p in permutations(resources)]


def _result(resources: list[dict[str, Any]], codes: CodeSets) -> EngineResult:
    return assess_resources(resources, codes=codes, primary="bfm", as_of=AS_OF)


# Results that replace others: a blast count, a karyotype, a genomics result.


@pytest.mark.parametrize("status", ["amended", "corrected"])
def test_a_corrected_blast_count_replaces_the_final_one(codes: CodeSets, status: str) -> None:
    final = _as(_blasts("b1", "30%"), "final", "BM-1")
    fixed = _as(_blasts("b2", "3%"), status, "BM-1")
    for order in _in_every_order(final, fixed):
        resources = [*_cns_relapse(), *order]
        inputs = extract(resources, codes)
        assert inputs.marrow_blasts == 3.0
        assert inputs.sources["marrow_blasts"] == ("Observation/b2",)
        a = _result(resources, codes).assessment
        assert a.site_pattern == "isolated_extramedullary"
        assert a.schemes["bfm"].group == "S1"
    # the final count alone: combined, S2
    a = _result([*_cns_relapse(), final], codes).assessment
    assert (a.site_pattern, a.schemes["bfm"].group) == ("combined", "S2")


def test_a_result_sent_again_under_its_id_is_one_result(codes: CodeSets) -> None:
    final = _as(_blasts("b", "30%"), "final")
    fixed = _as(_blasts("b", "3%"), "corrected")
    for order in _in_every_order(final, fixed):
        assert extract([*_cns_relapse(), *order], codes).marrow_blasts == 3.0


def test_a_corrected_blast_count_dated_out_of_the_window_leaves_none(codes: CodeSets) -> None:
    # The correction moved the sample date: what it replaces is not read in its stead.
    final = _as(_blasts("b1", "30%"), "final", "BM-1")
    fixed = _as(_blasts("b2", "30%", "2021-05-01"), "corrected", "BM-1")
    for order in _in_every_order(final, fixed):
        assert extract([*_cns_relapse(), *order], codes).marrow_blasts is None


def test_of_linked_blast_counts_the_latest_issued_stands(codes: CodeSets) -> None:
    early = _as(_blasts("b1", "30%"), "final", "BM-1", "2021-06-16T08:00:00Z")
    late = _as(_blasts("b2", "3%"), "final", "BM-1", "2021-06-16T09:00:00Z")
    for order in _in_every_order(early, late):
        assert extract([*_cns_relapse(), *order], codes).marrow_blasts == 3.0


def test_statuses_rank_whatever_the_order(codes: CodeSets) -> None:
    prelim = _as(_blasts("b1", "40%"), "preliminary", "BM-1")
    final = _as(_blasts("b2", "30%"), "final", "BM-1")
    fixed = _as(_blasts("b3", "3%"), "amended", "BM-1")
    for order in _in_every_order(prelim, final, fixed):
        assert extract([*_cns_relapse(), *order], codes).marrow_blasts == 3.0
    for order in _in_every_order(prelim, final):
        assert extract([*_cns_relapse(), *order], codes).marrow_blasts == 30.0


def test_unlinked_blast_counts_are_read_as_before(codes: CodeSets) -> None:
    # Only identifiers and ids link results: a correction of another accession replaces nothing.
    near = _as(_blasts("b1", "30%", "2021-06-16"), "final", "BM-1")
    far = _as(_blasts("b2", "3%", "2021-06-20"), "corrected", "BM-2")
    assert extract([*_cns_relapse(), near, far], codes).marrow_blasts == 30.0


@pytest.mark.parametrize(
    ("final", "fixed", "marker"),
    [
        pytest.param(
            _as(_karyotype("r1", "46,XY,t(9;22)(q34;q11.2)[20]"), "final", "CG-1"),
            _as(_karyotype("r2", "46,XY[20]"), "corrected", "CG-1"),
            "BCR-ABL1",
            id="karyotype",
        ),
        pytest.param(
            _as(_tp53("r1", "LA9633-4"), "final", "NGS-1"),
            _as(_tp53("r2", "LA9634-2"), "corrected", "NGS-1"),
            "TP53",
            id="genomic-variant",
        ),
    ],
)
def test_a_corrected_genetic_result_replaces_the_final_one(
    codes: CodeSets, final: dict[str, Any], fixed: dict[str, Any], marker: str
) -> None:
    for order in _in_every_order(final, fixed):
        inputs = extract([*_cns_relapse(), *order], codes)
        assert inputs.genetics.status(marker) is MarkerStatus.ABSENT
        assert inputs.sources["genetics"] == ("Observation/r2",)
    alone = extract([*_cns_relapse(), final], codes)
    assert alone.genetics.status(marker) is MarkerStatus.PRESENT


def test_a_final_genomic_result_replaces_a_preliminary_one(codes: CodeSets) -> None:
    prelim = _as(_tp53("v1", "LA9633-4"), "preliminary", "NGS-1")
    final = _as(_tp53("v2", "LA9634-2"), "final", "NGS-1")
    for order in _in_every_order(prelim, final):
        inputs = extract([*_cns_relapse(), *order], codes)
        assert inputs.genetics.status("TP53") is MarkerStatus.ABSENT
        assert inputs.preliminary == frozenset()


def test_genetic_results_at_the_top_rank_are_all_read(codes: CodeSets) -> None:
    # Two final results of one accession, issued apart: both read, present wins, as before.
    first = _as(_tp53("v1", "LA9633-4"), "final", "NGS-1", "2018-03-20T10:00:00Z")
    later = _as(_tp53("v2", "LA9634-2"), "final", "NGS-1", "2018-03-21T10:00:00Z")
    for order in _in_every_order(first, later):
        inputs = extract([*_cns_relapse(), *order], codes)
        assert inputs.genetics.status("TP53") is MarkerStatus.PRESENT


def test_unlinked_genetic_results_are_read_as_before(codes: CodeSets) -> None:
    final = _as(_karyotype("k1", "46,XY,t(9;22)(q34;q11.2)[20]"), "final", "CG-1")
    other = _as(_karyotype("k2", "46,XY[20]"), "corrected", "CG-2")
    inputs = extract([*_cns_relapse(), final, other], codes)
    assert inputs.genetics.status("BCR-ABL1") is MarkerStatus.PRESENT


# Preliminary results: they count, marked so on the card and in the app, whatever the input.


def _line(result: EngineResult, label: str) -> str:
    lines = [
        line
        for card in build_cards(result, app_url=None)
        for line in (card.detail or "").splitlines()
        if line.startswith(f"- {label}:")
    ]
    assert len(lines) == 1
    return lines[0]


def _immunophenotype(rid: str) -> dict[str, Any]:
    return observation(
        rid, cc(LOINC, "101119-6"), "2018-03-11", valueCodeableConcept=cc(OWN, "lineage-t")
    )


_PRELIMINARY = {
    "marrow_blasts": ([_blasts("x", "30%")], "Marrow blasts at relapse"),
    "genetics": ([_karyotype("x", "46,XY[20]")], "Genetics"),
    "lineage": ([_immunophenotype("x")], "Lineage"),
    "end_of_therapy": (
        [observation("x", cc(OWN, "end-of-frontline-therapy"), "2020-05-02", valueBoolean=True)],
        "End of frontline therapy",
    ),
    "refractory": (
        [observation("x", cc(OWN, "refractory-disease"), "2021-07-30", valueBoolean=True)],
        "Refractory disease",
    ),
}


def _no_lineage_record() -> list[dict[str, Any]]:
    """As `_cns_relapse`, with a diagnosis that names no lineage (the immunophenotype does)."""
    dx = diagnosis("2018-03-10", (CM, "C91.00"))
    return [r if r.get("id") != "dx" else dx for r in _cns_relapse() if r.get("id") != "eot"]


@pytest.mark.parametrize("name", list(_PRELIMINARY))
def test_a_preliminary_result_read_into_an_input_is_marked(codes: CodeSets, name: str) -> None:
    found, label = _PRELIMINARY[name]
    base = _no_lineage_record()
    for status, marked in (("preliminary", True), ("final", False)):
        resources = [*base, *(_as(r, status) for r in found)]
        inputs = extract(resources, codes)
        assert "Observation/x" in inputs.sources[name]
        assert inputs.preliminary == (frozenset({"Observation/x"}) if marked else frozenset())
        result = _result(resources, codes)
        line = _line(result, label)
        assert line.count(CARD_MARK) == int(marked), line
        preliminary = result.assessment.to_json()["preliminary"]
        assert preliminary == (["Observation/x"] if marked else [])


def test_a_preliminary_result_that_is_not_read_is_not_listed(codes: CodeSets) -> None:
    # A preliminary count 20 days from the relapse: outside the window, read into nothing.
    far = _as(_blasts("x", "30%", "2021-07-05"), "preliminary")
    inputs = extract([*_cns_relapse(), far], codes)
    assert inputs.marrow_blasts is None
    assert inputs.preliminary == frozenset()


def test_a_preliminary_mrd_is_marked_once(codes: CodeSets) -> None:
    mrd = _as(observation("m", cc(OWN, "mrd"), "2021-07-20", valueString="0.5%"), "preliminary")
    resources = [*_cns_relapse(), mrd]
    result = _result(resources, codes)
    assert result.assessment.inputs.mrd is not None
    assert result.assessment.inputs.mrd.preliminary
    assert _line(result, "Post-induction MRD").count(CARD_MARK) == 1
    # its flag says it in the JSON: not listed again
    assert result.assessment.to_json()["preliminary"] == []


def test_the_card_and_the_app_mark_the_same_preliminary_inputs(codes: CodeSets) -> None:
    resources = [
        *_cns_relapse(),
        _as(_blasts("b", "30%"), "preliminary"),
        _as(_karyotype("k", "46,XY,t(9;22)(q34;q11.2)[20]"), "preliminary"),
    ]
    result = _result(resources, codes)
    assert result.assessment.to_json()["preliminary"] == ["Observation/b", "Observation/k"]
    page = build_page(result.assessment, {}, {}, {})
    rows = {row.name: row.value for row in page.inputs}
    for name, label in (("marrow_blasts", "Marrow blasts at relapse"), ("genetics", "Genetics")):
        assert rows[name].endswith(MARK)
        assert _line(result, label).count(CARD_MARK) == 1
    assert rows["marrow_blasts"] == f"30 % {MARK}"
    assert not rows["relapse_date"].endswith(MARK)
