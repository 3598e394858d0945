"""risk-schemes.md §10, "Decisions taken on questions raised while building": the mapping rows."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.extract import extract
from mappings.observations import parse_karyotype, read_mrd
from service.domain.inputs import Lineage
from tests.mappings.builders import SCT, diagnosis, mrd, patient, relapse


def test_s10_snomed_278453007_alone_is_an_all_condition_of_lineage_mpal(codes: CodeSets) -> None:
    inputs = extract([patient(), diagnosis("2018-03-10", (SCT, "278453007"))], codes)
    assert inputs.has_all
    assert inputs.lineage is Lineage.MPAL
    assert inputs.diagnosis_date is not None


def test_s10_snomed_278453007_relapse_is_read(codes: CodeSets) -> None:
    dx = diagnosis("2018-03-10", (SCT, "278453007"))
    inputs = extract([patient(), dx, relapse("rel", "2021-06-15", "14016003")], codes)
    assert (inputs.relapsed, inputs.lineage) == (True, Lineage.MPAL)


def test_s10_several_clones_lowest_modal_number_hyperdiploid_clone_still_favourable(
    codes: CodeSets,
) -> None:
    k = parse_karyotype("56,XY,+4,+6,+10[12]/46,XY[8]", codes)
    assert k.modal == 46
    assert "high_hyperdiploidy" in k.present
    assert "hypodiploidy" in parse_karyotype("47,XY,+21[5]/38,XY,-7[15]", codes).present


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        ({"valueString": "2e-4"}, 2e-4),
        ({"valueString": "1.2 x 10^-4"}, 1.2e-4),
        ({"valueString": "<1e-4"}, 1e-4),
    ],
)
def test_s10_mrd_in_scientific_notation_without_a_unit_is_a_fraction(
    value: dict[str, Any], fraction: float
) -> None:
    reading = read_mrd(mrd("m", "2021-07-20", **value))
    assert reading.mrd is not None
    assert reading.mrd.value == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ({"valueString": "0.05"}, "without a unit"),
        ({"valueString": "<0.01"}, "without a unit"),
        ({"valueString": "0,05"}, "without a unit"),
        ({"valueString": "negative (sensitivity 0.0001)"}, "not understood"),
        ({"valueQuantity": {"value": 0.05}}, "unit"),
    ],
)
def test_s10_mrd_plain_decimal_or_unitless_quantity_is_never_guessed(
    value: dict[str, Any], phrase: str
) -> None:
    reading = read_mrd(mrd("m", "2021-07-20", **value))
    assert reading.mrd is None
    assert reading.problem is not None
    assert phrase in reading.problem
    assert "0.05" not in reading.problem
    assert "0,05" not in reading.problem


def test_s10_mrd_without_a_unit_is_a_warning_and_mrd_stays_unknown(codes: CodeSets) -> None:
    record = [
        patient(),
        diagnosis(),
        relapse("rel", "2021-06-15", "14016003"),
        mrd("m", "2021-07-20", valueString="0.0005"),
    ]
    inputs = extract(record, codes)
    assert inputs.mrd is None
    assert any("Observation/m" in w and "unit" in w for w in inputs.warnings)
