"""Observation readers: MRD values and strings, blasts, ISCN karyotypes, genomics."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.observations import (
    parse_karyotype,
    parse_mrd_string,
    read_blasts,
    read_genomic,
    read_mrd,
    text_fusions,
)
from service.domain.inputs import MarkerStatus
from service.domain.thresholds import Comparator
from tests.mappings.builders import HGNC, LOINC, OWN, cc, genomic, mrd, observation


@pytest.mark.parametrize(
    ("text", "comparator", "value"),
    [
        ("<0.01%", "<", 1e-4),
        ("0.5 %", "=", 5e-3),
        ("1.2 x 10^-4", "=", 1.2e-4),
        ("1.2 × 10^-4", "=", 1.2e-4),
        ("2e-4", "=", 2e-4),
        ("2E-04", "=", 2e-4),
        ("negative (sensitivity 1e-4)", "<", 1e-4),
        ("Negative (sensitivity 0.01%)", "<", 1e-4),
        ("<= 1e-3", "<=", 1e-3),
        ("0", "=", 0.0),  # zero whatever the unit
        ("≥0.1%", ">=", 1e-3),
        ("> 1%", ">", 1e-2),
        ("<0.1%", "<", 1e-3),
    ],
)
def test_mrd_strings(text: str, comparator: str, value: float) -> None:
    parsed = parse_mrd_string(text)
    assert parsed is not None
    assert parsed[0] is Comparator(comparator)
    assert parsed[1] == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "negative",
        "positive",
        "see report",
        "0.1% or less",
        # a plain decimal: percent or fraction? (risk-schemes §10)
        "0.05",
        "<0.001",
        "negative (sensitivity 0.0001)",
    ],
)
def test_mrd_strings_not_understood(text: str) -> None:
    assert parse_mrd_string(text) is None


@pytest.mark.parametrize(
    ("quantity", "comparator", "value"),
    [
        ({"value": 0.05, "unit": "%", "code": "%"}, "=", 5e-4),
        ({"value": 0.002, "unit": "1"}, "=", 2e-3),
        ({"value": 0.002, "code": "{fraction}"}, "=", 2e-3),
        ({"value": 80, "unit": "/10*6"}, "=", 8e-5),
        ({"value": 0.01, "unit": "%", "comparator": "<"}, "<", 1e-4),
        ({"value": 0.01, "unit": "%", "comparator": "<="}, "<=", 1e-4),
        ({"value": 1, "unit": "%", "comparator": ">="}, ">=", 1e-2),
        ({"value": 1, "unit": "%", "comparator": ">"}, ">", 1e-2),
    ],
)
def test_mrd_quantities(quantity: dict[str, Any], comparator: str, value: float) -> None:
    reading = read_mrd(mrd("m", "2021-07-20", valueQuantity=quantity))
    assert reading.mrd is not None
    assert reading.mrd.comparator is Comparator(comparator)
    assert reading.mrd.value == pytest.approx(value)
    assert reading.mrd.source == "Observation/m"


@pytest.mark.parametrize(
    "value",
    [
        {"valueQuantity": {"value": 0.05, "unit": "cells"}},
        {"valueQuantity": {"value": 0.05}},
        {"valueQuantity": {"value": 0.05, "unit": "%", "comparator": "ad"}},
        {"valueQuantity": {"value": 150, "unit": "%"}},
        {"valueString": "not detected"},
        {},
    ],
)
def test_mrd_problems_name_only_the_reference(value: dict[str, Any]) -> None:
    reading = read_mrd(mrd("m", "2021-07-20", **value))
    assert reading.mrd is None
    assert reading.problem is not None
    assert reading.problem.startswith("Observation/m: ")
    assert "0.05" not in reading.problem
    assert "150" not in reading.problem


@pytest.mark.parametrize(
    ("value", "percent"),
    [
        ({"valueQuantity": {"value": 35, "unit": "%", "code": "%"}}, 35.0),
        ({"valueString": "12 %"}, 12.0),
        ({"valueString": "3%"}, 3.0),
        ({"valueQuantity": {"value": 35, "unit": "10*9/L"}}, None),
        ({"valueString": "many"}, None),
    ],
)
def test_blasts(value: dict[str, Any], percent: float | None) -> None:
    reading = read_blasts(observation("b", cc(OWN, "marrow-blasts"), "2021-06-15", **value))
    assert reading.percent == percent
    assert (reading.problem is None) == (percent is not None)


@pytest.mark.parametrize(
    ("iscn", "modal", "present"),
    [
        ("46,XY,t(9;22)(q34;q11.2)[20]", 46, {"BCR-ABL1"}),
        ("46,XY,t(9;22) (q34;q11.2)[20]", 46, {"BCR-ABL1"}),
        ("46,XX,t(9;22)(q34.1;q11.23)[10]/46,XX[10]", 46, {"BCR-ABL1"}),
        ("46,XX,t(4;11)(q21;q23)[15]", 46, {"KMT2A"}),
        ("46,XY,t(11;19)(q23;p13.3)[20]", 46, {"KMT2A"}),
        ("46,XY,der(19)t(1;19)(q23;p13)[10]", 46, {"TCF3"}),
        ("46,XX,t(17;19)(q22;p13)[8]", 46, {"TCF3"}),
        ("46,XX,t(12;19)(p13;p13)[8]", 46, set()),  # 19p13 without chromosome 1 or 17
        ("46,XX,t(9;12)(q34;q11)[8]", 46, set()),  # 9q34 without 22q11
        ("47,XY,+X,iAMP21[10]", 47, {"iAMP21"}),
        ("46,XX,amp(21)(q22)[5]", 46, {"iAMP21"}),
        ("35,XY,-2,-3,-7[12]", 35, {"hypodiploidy"}),
        ("39,XX,-7[10]", 39, {"hypodiploidy"}),
        ("40,XX,-7[10]", 40, set()),
        ("44~45,XX,-7[cp10]", 44, set()),
        ("56,XY,+X,+4,+6[20]", 56, {"high_hyperdiploidy"}),
        ("51,XY,+X,+4[20]", 51, {"high_hyperdiploidy"}),
        ("50,XY,+X,+4[20]", 50, set()),
        # several clones: the lowest sets the modal number, a high-hyperdiploid one is listed
        ("56,XY,+4,+6,+10[12]/46,XY[8]", 46, {"high_hyperdiploidy"}),
        ("46,XY[8]/54,XY,+X,+4,+10,+14,+17,+18,+21,+21[12]", 46, {"high_hyperdiploidy"}),
        ("37,XY,-2,-3[4]/74,XXYY[10]", 37, {"hypodiploidy", "high_hyperdiploidy"}),
        ("46,XY[20]", 46, set()),
        # FISH after the karyotype: two genes of a known fusion joined by con
        ("46,XY[20].nuc ish(ABL1,BCR)x3(ABL1 con BCRx2)[180/200]", 46, {"BCR-ABL1"}),
        ("46,XX[20].nuc ish(ETV6,RUNX1)x3(ETV6 con RUNX1x1)[150/200]", 46, {"ETV6-RUNX1"}),
        ("46,XX[20].nuc ish(ETV6,ABL1)x3(ETV6 con ABL1x1)[90/200]", 46, {"ABL-class"}),
        ("46,XY[20].nuc ish 9q34(ABLx3),22q11.2(BCRx3)(ABL con BCRx2)[400]", 46, {"BCR-ABL1"}),
        ("46,XY[20].nuc ish(KMT2A,AFF1)x3(KMT2A con AFF1x1)[80/200]", 46, {"KMT2A"}),
    ],
)
def test_iscn(codes: CodeSets, iscn: str, modal: int, present: set[str]) -> None:
    k = parse_karyotype(iscn, codes)
    assert k.modal == modal
    assert set(k.present) == present
    assert {"hypodiploidy", "high_hyperdiploidy"} <= k.explicit
    assert set(k.present) <= k.explicit


def test_iscn_without_a_modal_number(codes: CodeSets) -> None:
    k = parse_karyotype("normal male karyotype", codes)
    assert k.modal is None
    assert not k.read


@pytest.mark.parametrize(
    ("iscn", "unknown"),
    [
        # normal signals: no pattern read, so BCR-ABL1 is not covered (never absent)
        ("46,XY[20].nuc ish(ABL1,BCR)x2[200]", {"BCR-ABL1", "ABL-class"}),
        # a break-apart whole (5' con 3' of one gene) is not a fusion
        ("46,XY[20].nuc ish(KMT2Ax2)(5'KMT2A con 3'KMT2Ax2)[200]", {"KMT2A"}),
        # separated signals: a pattern this reader does not interpret
        ("46,XY[20].nuc ish(KMT2Ax2)(5'KMT2A sep 3'KMT2Ax1)[100/200]", {"KMT2A"}),
        ("46,XX[20].nuc ish(CDKN2Ax0)[150/200]", set()),  # no marker of ours
        # a translocation without bands cannot be read band by band
        ("46,XY,t(9;22)[20]", {"BCR-ABL1"}),
        ("46,XY,t(4;11)[20]", {"KMT2A"}),
        ("46,XY,t(1;19)[20]", {"TCF3"}),
        ("46,XY,t(12;21)[20]", set()),
    ],
)
def test_what_is_named_but_not_read_is_not_covered(
    codes: CodeSets, iscn: str, unknown: set[str]
) -> None:
    k = parse_karyotype(iscn, codes)
    assert k.present == frozenset()
    assert k.unknown == unknown
    assert not k.explicit & unknown


def test_fish_alone_is_read(codes: CodeSets) -> None:
    k = parse_karyotype("nuc ish(ABL1,BCR)x3(ABL1 con BCRx2)[200]", codes)
    assert k.read
    assert k.modal is None
    assert k.present == {"BCR-ABL1"}
    assert k.explicit == {"BCR-ABL1"}  # ploidy not covered without a karyotype


@pytest.mark.parametrize(
    ("genes", "answer", "expected"),
    [
        (["HGNC:1014", "HGNC:76"], "LA9633-4", {"BCR-ABL1": MarkerStatus.PRESENT}),
        (["HGNC:1014", "HGNC:76"], "LA9634-2", {"BCR-ABL1": MarkerStatus.ABSENT}),
        (["HGNC:3495", "HGNC:10471"], "LA9633-4", {"ETV6-RUNX1": MarkerStatus.PRESENT}),
        (["HGNC:11998"], "LA9633-4", {"TP53": MarkerStatus.PRESENT}),
        (["HGNC:11998"], "LA9634-2", {"TP53": MarkerStatus.ABSENT}),
        (["HGNC:13176"], "LA9633-4", {"IKZF1": MarkerStatus.PRESENT}),
        (["HGNC:7132", "HGNC:999999"], "LA9633-4", {"KMT2A": MarkerStatus.PRESENT}),
        (["HGNC:11633"], "LA9633-4", {"TCF3": MarkerStatus.PRESENT}),
        (["HGNC:3495", "HGNC:76"], "LA9633-4", {"ABL-class": MarkerStatus.PRESENT}),
        (["HGNC:8064", "HGNC:76"], "LA9633-4", {"ABL-class": MarkerStatus.PRESENT}),  # NUP214
        (["HGNC:8804", "EBF1"], "LA9633-4", {"ABL-class": MarkerStatus.PRESENT}),
        (["SSBP2", "HGNC:2433"], "LA9633-4", {"ABL-class": MarkerStatus.PRESENT}),
        (["HGNC:77", "RCSD1"], "LA9633-4", {"ABL-class": MarkerStatus.PRESENT}),
        # one ABL-class fusion absent does not cover the class
        (["HGNC:3495", "HGNC:76"], "LA9634-2", {}),
        (["HGNC:3495", "JAK2"], "LA9633-4", {}),  # a fusion, not one of our markers
    ],
)
def test_genomic_variants(
    codes: CodeSets, genes: list[str], answer: str, expected: dict[str, MarkerStatus]
) -> None:
    result = read_genomic(genomic("g", genes, answer), codes)
    assert result.problem is None
    assert dict(result.markers) == expected
    assert result.unknown == frozenset()


def _gene(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code} | ({"display": display} if display else {})
    return {"code": cc(LOINC, "48018-6"), "valueCodeableConcept": {"coding": [coding]}}


@pytest.mark.parametrize(
    "components",
    [
        # HGNC symbols, as many LIS write them
        [_gene(HGNC, "BCR"), _gene(HGNC, "ABL1")],
        [_gene(HGNC, "bcr"), _gene(HGNC, "abl1")],
        # the geneId alias system (the HL7 Genomics Reporting examples), with and without prefix
        [_gene(HGNC + "/geneId", "HGNC:1014", "BCR"), _gene(HGNC + "/geneId", "HGNC:76", "ABL1")],
        [_gene("https://www.genenames.org/geneId/", "1014"), _gene(HGNC, "76")],
        # HGNC's OID
        [_gene("urn:oid:2.16.840.1.113883.6.281", "HGNC:1014"), _gene(HGNC, "ABL1")],
        # one component, the fusion written in text
        [{"code": cc(LOINC, "48018-6"), "valueCodeableConcept": {"text": "BCR::ABL1"}}],
        [{"code": cc(LOINC, "48018-6"), "valueCodeableConcept": {"text": "BCR-ABL1 p190"}}],
        [{"code": cc(LOINC, "81252-9"), "valueCodeableConcept": {"text": "BCR::ABL1 fusion"}}],
    ],
)
def test_bcr_abl1_positive_as_systems_write_it(
    codes: CodeSets, components: list[dict[str, Any]]
) -> None:
    o = observation(
        "g",
        cc(LOINC, "69548-6"),
        "2018-03-12",
        component=components,
        valueCodeableConcept=cc(LOINC, "LA9633-4"),
    )
    result = read_genomic(o, codes)
    assert result.problem is None
    assert dict(result.markers) == {"BCR-ABL1": MarkerStatus.PRESENT}


@pytest.mark.parametrize(
    ("text", "genes"),
    [
        ("BCR::ABL1", {"BCR", "ABL1"}),
        ("BCR-ABL1 p190 transcript", {"BCR", "ABL1"}),
        ("BCR-ABL (p210)", {"BCR", "ABL1"}),  # the previous symbol ABL
        ("TEL-AML1 fusion", {"ETV6", "RUNX1"}),
        ("NUP214::ABL1", {"NUP214", "ABL1"}),
        ("EBF1-PDGFRB", {"EBF1", "PDGFRB"}),
        ("ABL1-rearranged", set()),  # no partner named
        ("ETV6-RUNX1-like", set()),  # another subtype
        ("HLA-DR", set()),
        ("Somatic", set()),
    ],
)
def test_fusions_written_in_text(codes: CodeSets, text: str, genes: set[str]) -> None:
    assert text_fusions(text, codes) == genes


@pytest.mark.parametrize(
    ("genes", "unknown"),
    [
        (["HGNC:1014"], {"BCR-ABL1"}),  # BCR alone: which fusion is not said
        (["HGNC:76"], {"BCR-ABL1", "ABL-class"}),
        (["HGNC:3495"], {"ETV6-RUNX1"}),
    ],
)
def test_a_lone_fusion_gene_present_leaves_its_markers_unknown(
    codes: CodeSets, genes: list[str], unknown: set[str]
) -> None:
    result = read_genomic(genomic("g", genes, "LA9633-4"), codes)
    assert result.problem is None
    assert not result.markers
    assert result.unknown == unknown


def test_present_without_a_gene_read_leaves_every_gene_marker_unknown(codes: CodeSets) -> None:
    o = genomic("g", [], "LA9633-4")
    o["component"] = [
        {
            "code": cc(LOINC, "48018-6"),
            "valueCodeableConcept": cc("http://www.ncbi.nlm.nih.gov/gene", "613"),
        }
    ]
    result = read_genomic(o, codes)
    assert result.problem is not None
    assert result.problem.startswith("Observation/g: ")
    assert not result.evaluated
    assert {"BCR-ABL1", "ABL-class", "KMT2A", "TCF3", "TP53"} <= result.unknown


def test_genomic_without_an_answer_is_a_problem(codes: CodeSets) -> None:
    result = read_genomic(genomic("g", ["HGNC:11998"], None), codes)
    assert result.problem == "Observation/g: genomic result without a present/absent answer"
    assert not result.markers
    assert result.unknown == {"TP53"}


@pytest.mark.parametrize(
    ("value", "answer", "expected"),
    [
        (
            {"coding": [{"system": "https://iscn.karger.com", "code": "46,XX,t(9;22)(q34;q11.2)"}]},
            "LA9633-4",
            {"BCR-ABL1": MarkerStatus.PRESENT},
        ),
        ({"text": "t(4;11)(q21;q23)"}, "LA9633-4", {"KMT2A": MarkerStatus.PRESENT}),
        ({"text": "t(9;22)(q34;q11.2)"}, "LA9634-2", {"BCR-ABL1": MarkerStatus.ABSENT}),
        # the karyotype prefix of a variant's ISCN says nothing of ploidy
        ({"text": "35,XY,-2,-3,t(1;19)(q23;p13)"}, "LA9633-4", {"TCF3": MarkerStatus.PRESENT}),
    ],
)
def test_a_structural_variant_given_in_iscn(
    codes: CodeSets, value: dict[str, Any], answer: str, expected: dict[str, MarkerStatus]
) -> None:
    o = observation(
        "g",
        cc(LOINC, "69548-6"),
        "2018-03-12",
        component=[{"code": cc(LOINC, "81291-7"), "valueCodeableConcept": value}],
        valueCodeableConcept=cc(LOINC, answer),
    )
    result = read_genomic(o, codes)
    assert result.problem is None
    assert dict(result.markers) == expected
    assert result.unknown == frozenset()
