"""MRD as labs send it (issue 12): amended/corrected results, preliminary then final, the first
marrow MRD after induction, and the Specimen that says the sample was marrow."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.extract import extract
from service.cards import build_cards
from service.engine import assess_resources
from tests.mappings.builders import LOINC, OWN, SCT, cc, late_marrow_relapse, observation

RELAPSE = date(2021, 6, 15)
FILLER = "urn:oid:1.2.840.114350.1.13.0.1.7.2.798268"  # an accession number system (Epic-like)


def _on(days: int) -> str:
    return date.fromordinal(RELAPSE.toordinal() + days).isoformat()


def _mrd(
    rid: str,
    day: int,
    value: str,
    status: str = "final",
    *,
    accession: str | None = None,
    issued: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    r = observation(
        rid,
        {
            "coding": [
                {"system": OWN, "code": "mrd"},
                {"system": "urn:oid:1.2.3.4.5.local-lab", "code": "BM-MRD-FC"},
            ],
            "text": "MRD flow cytometry, bone marrow",
        },
        f"{_on(day)}T09:30:00-05:00",
        valueString=value,
    )
    r["status"] = status
    if accession is not None:
        r["identifier"] = [{"system": FILLER, "value": accession}]
    if issued is not None:
        r["issued"] = issued
    r.update(extra)
    return r


def _eot() -> dict[str, Any]:
    return observation("eot", cc(OWN, "end-of-frontline-therapy"), "2020-05-01") | {
        "valueBoolean": True
    }


def _with(*mrds: dict[str, Any]) -> list[dict[str, Any]]:
    return [*late_marrow_relapse(), _eot(), *mrds]


def _value(resources: list[dict[str, Any]], codes: CodeSets) -> float | None:
    m = extract(resources, codes).mrd
    return None if m is None else m.value


@pytest.mark.parametrize("status", ["amended", "corrected"])
def test_an_amended_result_replaces_what_it_amends(codes: CodeSets, status: str) -> None:
    final = _mrd("first", 30, "0.005%", accession="MRD-1", issued="2021-07-16T10:00:00Z")
    # The amendment keeps the accession; its sample time was also corrected by a day.
    amended = _mrd("fixed", 31, "0.5%", status, accession="MRD-1", issued="2021-07-15T08:00:00Z")
    for order in ([final, amended], [amended, final]):
        inputs = extract(_with(*order), codes)
        assert inputs.mrd is not None
        assert inputs.mrd.value == pytest.approx(5e-3)
        assert inputs.mrd.source == "Observation/fixed"
        assert [m.source for m in inputs.mrd_series] == ["Observation/fixed"]


def test_an_amended_mrd_decides_the_plan(codes: CodeSets) -> None:
    final = _mrd("first", 30, "0.005%", accession="MRD-1")
    amended = _mrd("fixed", 30, "0.5%", "amended", accession="MRD-1")

    # A normal karyotype: genetics evaluated, so no untested TP53 (PATH-6) leaves the plan open.
    karyotype = observation("k", cc(LOINC, "62356-1"), "2018-03-12", valueString="46,XY[20]")

    def plan(resources: list[dict[str, Any]]) -> str:
        result = assess_resources(
            [*resources, karyotype], codes=codes, primary="bfm", as_of=date(2021, 8, 1)
        )
        found: str = result.assessment.to_json()["pathway"]["plan"]
        return found

    assert plan(_with(final)) == "chemotherapy"
    assert plan(_with(final, amended)) == "chemotherapy_then_hsct"


def test_final_beats_preliminary_of_the_same_sample(codes: CodeSets) -> None:
    prelim = _mrd("p", 30, "0.005%", "preliminary", issued="2021-07-16T10:00:00Z")
    final = _mrd("f", 30, "0.5%", issued="2021-07-15T10:00:00Z")
    inputs = extract(_with(prelim, final), codes)
    assert inputs.mrd is not None
    assert (inputs.mrd.source, inputs.mrd.preliminary) == ("Observation/f", False)


def test_a_preliminary_result_counts_and_is_marked_on_the_card(codes: CodeSets) -> None:
    resources = _with(_mrd("p", 30, "0.5%", "preliminary"))
    inputs = extract(resources, codes)
    assert inputs.mrd is not None
    assert inputs.mrd.preliminary
    result = assess_resources(resources, codes=codes, primary="bfm", as_of=date(2021, 8, 1))
    assert result.assessment.to_json()["inputs"]["mrd"]["preliminary"] is True
    lines = [
        line
        for card in build_cards(result, app_url=None)
        for line in (card.detail or "").splitlines()
        if line.startswith("- Post-induction MRD:")
    ]
    assert len(lines) == 1
    assert "preliminary result" in lines[0]


def test_among_equals_the_latest_issued_wins(codes: CodeSets) -> None:
    early = _mrd("a", 30, "0.005%", issued="2021-07-16T10:00:00+02:00")
    late = _mrd("b", 30, "0.5%", issued="2021-07-16T09:30:00Z")  # later than 08:00Z
    assert _value(_with(early, late), codes) == pytest.approx(5e-3)
    assert _value(_with(late, early), codes) == pytest.approx(5e-3)


def test_two_finals_that_disagree_with_nothing_to_order_them_are_unknown(
    codes: CodeSets,
) -> None:
    inputs = extract(_with(_mrd("a", 30, "0.005%"), _mrd("b", 30, "0.5%")), codes)
    assert inputs.mrd is None
    assert any(
        "disagree" in w and "Observation/a" in w and "Observation/b" in w for w in inputs.warnings
    )
    # the same value twice is no conflict
    assert _value(_with(_mrd("a", 30, "0.5%"), _mrd("b", 30, "0.50 %")), codes) == pytest.approx(
        5e-3
    )


@pytest.mark.parametrize(
    "first",
    [
        _mrd("first", 30, "see comment"),
        _mrd("first", 30, "0.05", accession="X"),  # a plain decimal without a unit
        _mrd("first", 30, "", "registered") | {"valueString": None},
    ],
)
def test_an_unreadable_first_mrd_is_unknown_never_the_next(
    codes: CodeSets, first: dict[str, Any]
) -> None:
    first = {k: v for k, v in first.items() if v is not None}
    inputs = extract(_with(first, _mrd("next", 45, "0.001%")), codes)
    assert inputs.mrd is None
    assert any("Observation/first" in w and "MRD unknown" in w for w in inputs.warnings)
    # the next result is still on the timeline
    assert [m.source for m in inputs.mrd_series] == ["Observation/next"]


def test_a_blood_mrd_before_the_marrow_one_does_not_count(codes: CodeSets) -> None:
    blood = _mrd("pb", 28, "unreadable", bodySite=cc(SCT, "87612001"))  # blood
    marrow = _mrd("bm", 30, "0.5%")
    assert _value(_with(blood, marrow), codes) == pytest.approx(5e-3)


def _specimen(rid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Specimen", "id": rid, "subject": {"reference": "Patient/p"}} | fields


@pytest.mark.parametrize(
    ("specimen", "marrow"),
    [
        (_specimen("s", type=cc(SCT, "119359002")), True),  # bone marrow specimen
        (
            _specimen(
                "s",
                type=cc(SCT, "119295008"),  # specimen obtained by aspiration
                collection={"bodySite": cc(SCT, "14016003")},  # bone marrow
            ),
            True,
        ),
        (_specimen("s", type=cc(SCT, "119297000")), False),  # blood specimen
        (_specimen("s", type=cc(SCT, "258450006")), False),  # CSF specimen
        (_specimen("s", type={"text": "BM aspirate"}), True),  # nothing coded says otherwise
    ],
)
def test_the_specimen_says_whether_the_sample_was_marrow(
    codes: CodeSets, specimen: dict[str, Any], marrow: bool
) -> None:
    m = _mrd("m", 30, "0.5%", specimen={"reference": "Specimen/s"})
    assert (extract(_with(specimen, m), codes).mrd is not None) is marrow
