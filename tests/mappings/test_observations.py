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
)
from service.domain.inputs import Comparator, MarkerStatus
from tests.mappings.builders import OWN, cc, genomic, mrd, observation


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
        ("<= 0.001", "<=", 1e-3),
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


@pytest.mark.parametrize("text", ["", "negative", "positive", "see report", "0.1% or less"])
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
        ("56,XY,+4,+6,+10[12]/46,XY[8]", 46, set()),  # several clones: the lowest
        ("46,XY[20]", 46, set()),
    ],
)
def test_iscn(iscn: str, modal: int, present: set[str]) -> None:
    k = parse_karyotype(iscn)
    assert k.modal == modal
    assert set(k.present) == present
    assert {"hypodiploidy", "high_hyperdiploidy"} <= k.explicit
    assert set(k.present) <= k.explicit


def test_iscn_without_a_modal_number() -> None:
    assert parse_karyotype("normal male karyotype").modal is None


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
        (["HGNC:1014"], "LA9633-4", {}),  # BCR alone is not the fusion
        (["HGNC:76"], "LA9633-4", {}),
    ],
)
def test_genomic_variants(
    codes: CodeSets, genes: list[str], answer: str, expected: dict[str, MarkerStatus]
) -> None:
    result = read_genomic(genomic("g", genes, answer), codes)
    assert result.problem is None
    assert dict(result.markers) == expected


def test_genomic_without_an_answer_is_a_problem(codes: CodeSets) -> None:
    result = read_genomic(genomic("g", ["HGNC:11998"], None), codes)
    assert result.problem == "Observation/g: genomic result without a present/absent answer"
    assert not result.markers
