"""Results that replace others (fhir-contract.md, "The leukemia"): of marrow blasts at relapse,
karyotypes and genomic results linked by an identifier or an id, only those that stand are read,
in any order, as for MRD (test_mrd_records.py)."""

from __future__ import annotations

from datetime import date
from itertools import permutations
from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.extract import extract
from service.domain.inputs import MarkerStatus
from service.engine import EngineResult, assess_resources
from tests.mappings.builders import (
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


# Defect 1: the blast count, the karyotype, the genomics result took everything as it came.


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


def test_a_corrected_karyotype_replaces_the_final_one(codes: CodeSets) -> None:
    final = _as(_karyotype("k1", "46,XY,t(9;22)(q34;q11.2)[20]"), "final", "CG-1")
    fixed = _as(_karyotype("k2", "46,XY[20]"), "corrected", "CG-1")
    for order in _in_every_order(final, fixed):
        inputs = extract([*_cns_relapse(), *order], codes)
        assert inputs.genetics.status("BCR-ABL1") is MarkerStatus.ABSENT
        assert inputs.sources["genetics"] == ("Observation/k2",)
    alone = extract([*_cns_relapse(), final], codes)
    assert alone.genetics.status("BCR-ABL1") is MarkerStatus.PRESENT


def test_a_corrected_genomic_result_replaces_the_final_one(codes: CodeSets) -> None:
    final = _as(_tp53("v1", "LA9633-4"), "final", "NGS-1")
    fixed = _as(_tp53("v2", "LA9634-2"), "corrected", "NGS-1")
    for order in _in_every_order(final, fixed):
        inputs = extract([*_cns_relapse(), *order], codes)
        assert inputs.genetics.status("TP53") is MarkerStatus.ABSENT
        assert inputs.sources["genetics"] == ("Observation/v2",)
    alone = extract([*_cns_relapse(), final], codes)
    assert alone.genetics.status("TP53") is MarkerStatus.PRESENT


def test_a_final_genomic_result_replaces_a_preliminary_one(codes: CodeSets) -> None:
    prelim = _as(_tp53("v1", "LA9633-4"), "preliminary", "NGS-1")
    final = _as(_tp53("v2", "LA9634-2"), "final", "NGS-1")
    for order in _in_every_order(prelim, final):
        inputs = extract([*_cns_relapse(), *order], codes)
        assert inputs.genetics.status("TP53") is MarkerStatus.ABSENT


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
