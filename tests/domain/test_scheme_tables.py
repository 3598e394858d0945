"""Every cell of every scheme table, transcribed from risk-schemes.md §3 (not from the code)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.domain import assess
from service.domain.inputs import HIGH_RISK_MARKERS, Genetics, Lineage, MarkerStatus, Site
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)
PATTERNS = ("isolated_extramedullary", "combined", "isolated_marrow")
SHORT = {"isolated_extramedullary": "IEM", "combined": "combined", "isolated_marrow": "IM"}

# §3.1 BFM: lineage, time → isolated EM, combined, isolated marrow
BFM_TABLE = [
    ("B", "very_early", ("S2", "S4", "S4")),
    ("B", "early", ("S2", "S2", "S3")),
    ("B", "late", ("S1", "S2", "S2")),
    ("T", "very_early", ("S2", "S4", "S4")),
    ("T", "early", ("S2", "S4", "S4")),
    ("T", "late", ("S1", "S4", "S4")),
]
# §3.2 ALLR3: S1 → standard, S2 → intermediate, S3/S4 → high
ALLR3 = {"S1": "standard", "S2": "intermediate", "S3": "high", "S4": "high"}
# §3.4 IntReALL 2010
INTREALL_TABLE = [
    ("B", "very_early", ("high", "high", "high")),
    ("B", "early", ("standard", "standard", "high")),
    ("B", "late", ("standard", "standard", "standard")),
    ("T", "very_early", ("high", "high", "high")),
    ("T", "early", ("standard", "high", "high")),
    ("T", "late", ("standard", "high", "high")),
]


def _cells(
    rule: str, table: list[tuple[str, str, tuple[str, str, str]]], mapping: dict[str, str] | None
) -> list[Any]:
    cases = []
    for lineage, timing, groups in table:
        for pattern, group in zip(PATTERNS, groups, strict=True):
            expected = mapping[group] if mapping else group
            rule_id = rule.format(lineage=lineage)
            cases.append(
                pytest.param(
                    lineage,
                    timing,
                    pattern,
                    expected,
                    rule_id,
                    id=f"{rule_id}-{lineage}-{timing}-{SHORT[pattern]}-{expected}",
                )
            )
    return cases


@pytest.mark.parametrize(
    ("lineage", "timing", "pattern", "group", "rule"), _cells("BFM-{lineage}", BFM_TABLE, None)
)
def test_bfm(lineage: str, timing: str, pattern: str, group: str, rule: str) -> None:
    result = assess(make_inputs(timing, pattern, lineage=Lineage(lineage)), AS_OF).schemes["bfm"]
    assert (result.group, result.rule, result.missing) == (group, rule, ())
    assert result.reason.endswith(f"→ {group}")


@pytest.mark.parametrize(
    ("lineage", "timing", "pattern", "group", "rule"), _cells("ALLR3", BFM_TABLE, ALLR3)
)
def test_allr3(lineage: str, timing: str, pattern: str, group: str, rule: str) -> None:
    result = assess(make_inputs(timing, pattern, lineage=Lineage(lineage)), AS_OF).schemes["allr3"]
    assert (result.group, result.rule, result.missing) == (group, rule, ())
    very_early_iem = timing == "very_early" and pattern == "isolated_extramedullary"
    assert bool(result.notes) == very_early_iem


@pytest.mark.parametrize(
    ("lineage", "timing", "pattern", "group", "rule"), _cells("INTREALL", INTREALL_TABLE, None)
)
def test_intreall(lineage: str, timing: str, pattern: str, group: str, rule: str) -> None:
    result = assess(make_inputs(timing, pattern, lineage=Lineage(lineage)), AS_OF).schemes[
        "intreall"
    ]
    assert (result.group, result.rule, result.missing) == (group, rule, ())


# §3.3 COG with TIME-COG: 36 months when the marrow is involved, 18 for isolated EM.
COG_CASES = [
    pytest.param("T", date(2016, 1, 1), "isolated_marrow", None, "high", id="COG-T-any-high"),
    pytest.param(
        "T", date(2020, 1, 1), "isolated_extramedullary", None, "high", id="COG-T-late-IEM-high"
    ),
    pytest.param(
        "B", date(2017, 12, 31), "isolated_marrow", None, "high", id="COG-B-early-IM-35mo-high"
    ),
    pytest.param("B", date(2017, 12, 31), "combined", None, "high", id="COG-B-early-combined-high"),
    pytest.param(
        "B",
        date(2016, 6, 30),
        "isolated_extramedullary",
        None,
        "high",
        id="COG-B-early-IEM-17mo-high",
    ),
    pytest.param(
        "B", date(2016, 7, 1), "isolated_extramedullary", 1e-5, "low", id="COG-B-late-IEM-18mo-low"
    ),
    pytest.param(
        "B",
        date(2018, 1, 1),
        "isolated_marrow",
        9.99e-4,
        "low",
        id="COG-B-late-IM-36mo-MRD<1e-3-low",
    ),
    pytest.param(
        "B",
        date(2018, 1, 1),
        "combined",
        1e-3,
        "intermediate",
        id="COG-B-late-combined-MRD=1e-3-intermediate",
    ),
    pytest.param(
        "B",
        date(2018, 1, 1),
        "isolated_marrow",
        None,
        "indeterminate",
        id="COG-B-late-MRD-unknown-indeterminate",
    ),
]


@pytest.mark.parametrize(("lineage", "relapse", "pattern", "mrd_value", "group"), COG_CASES)
def test_cog(
    lineage: str, relapse: date, pattern: str, mrd_value: float | None, group: str
) -> None:
    inputs = make_inputs(
        None,
        pattern,
        lineage=Lineage(lineage),
        relapse_date=relapse,
        mrd=None if mrd_value is None else mrd(mrd_value),
    )
    result = assess(inputs, AS_OF).schemes["cog"]
    assert (result.group, result.rule) == (group, "COG")
    assert result.missing == (("mrd",) if group == "indeterminate" else ())


HR = Genetics(evaluated=True, markers={"KMT2A": MarkerStatus.PRESENT})
TESTIS = frozenset({Site.TESTIS})
TESTIS_CNS = frozenset({Site.TESTIS, Site.CNS})
# §3.5 InPOG-ALL-R1: each high-risk criterion alone, and each standard case.
INPOG_CASES = [
    pytest.param(
        {"lineage": Lineage.MPAL}, "late", "isolated_extramedullary", "high", id="INPOG-MPAL-high"
    ),
    pytest.param(
        {"genetics": HR}, "late", "isolated_extramedullary", "high", id="INPOG-genetics-high"
    ),
    pytest.param(
        {"birth_date": date(2000, 1, 1)},
        "late",
        "isolated_extramedullary",
        "high",
        id="INPOG-age15-high",
    ),
    pytest.param(
        {"birth_date": date(2000, 1, 2)},
        "late",
        "isolated_extramedullary",
        "standard",
        id="INPOG-age14-standard",
    ),
    pytest.param(
        {}, "very_early", "isolated_extramedullary", "high", id="INPOG-very-early-IEM-high"
    ),
    pytest.param({"sites": TESTIS}, "very_early", None, "high", id="INPOG-very-early-testis-high"),
    pytest.param(
        {"lineage": Lineage.T}, "late", "isolated_marrow", "high", id="INPOG-T-late-marrow-high"
    ),
    pytest.param({}, "early", "combined", "high", id="INPOG-B-early-combined-high"),
    pytest.param({}, "early", "isolated_extramedullary", "high", id="INPOG-B-early-CNS-high"),
    pytest.param({"sites": TESTIS_CNS}, "early", None, "high", id="INPOG-B-early-testis+CNS-high"),
    pytest.param(
        {"sites": TESTIS, "lineage": Lineage.T},
        "early",
        None,
        "high",
        id="INPOG-T-early-testis-high",
    ),
    pytest.param({"sites": TESTIS}, "early", None, "standard", id="INPOG-B-early-testis-standard"),
    pytest.param(
        {"mrd": mrd(1e-4)}, "late", "isolated_marrow", "high", id="INPOG-B-late-IM-MRD=1e-4-high"
    ),
    pytest.param(
        {"mrd": mrd(9e-5)},
        "late",
        "combined",
        "standard",
        id="INPOG-B-late-combined-MRD<1e-4-standard",
    ),
    pytest.param({}, "late", "isolated_extramedullary", "standard", id="INPOG-B-late-IEM-standard"),
    pytest.param(
        {"lineage": Lineage.T},
        "late",
        "isolated_extramedullary",
        "standard",
        id="INPOG-T-late-IEM-standard",
    ),
    pytest.param(
        {"genetics": Genetics()},
        "late",
        "isolated_extramedullary",
        "indeterminate",
        id="INPOG-genetics-not-tested-indeterminate",
    ),
    pytest.param(
        {"genetics": Genetics()},
        "very_early",
        "isolated_marrow",
        "high",
        id="INPOG-genetics-not-tested-high",
    ),
]


@pytest.mark.parametrize(("overrides", "timing", "pattern", "group"), INPOG_CASES)
def test_inpog(overrides: dict[str, Any], timing: str, pattern: str | None, group: str) -> None:
    result = assess(make_inputs(timing, pattern, **overrides), AS_OF).schemes["inpog"]
    assert (result.group, result.rule) == (group, "INPOG")
    assert result.missing == (("genetics",) if group == "indeterminate" else ())


@pytest.mark.parametrize("scheme", ["bfm", "allr3", "cog", "intreall"])
def test_mpal_not_applicable_except_inpog(scheme: str) -> None:
    result = assess(make_inputs(lineage=Lineage.MPAL), AS_OF).schemes[scheme]
    assert result.group == "not_applicable"
    assert "MPAL" in result.reason


@pytest.mark.parametrize("scheme", ["bfm", "allr3", "cog", "intreall", "inpog"])
def test_second_relapse_not_applicable_everywhere(scheme: str) -> None:
    result = assess(make_inputs(relapse_count=2), AS_OF).schemes[scheme]
    assert result.group == "not_applicable"
    assert "Second or later relapse" in result.reason


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        pytest.param(
            {"genetics": Genetics(evaluated=True, markers={"BCR-ABL1": MarkerStatus.PRESENT})},
            "BCR-ABL1",
            id="INTREALL-BCR-ABL1-not-applicable",
        ),
        pytest.param({"prior_hsct": True}, "HSCT", id="INTREALL-prior-HSCT-not-applicable"),
    ],
)
def test_intreall_exclusions(overrides: dict[str, Any], why: str) -> None:
    result = assess(make_inputs(**overrides), AS_OF).schemes["intreall"]
    assert result.group == "not_applicable"
    assert why in result.reason


def test_inpog_standard_resting_on_uncovered_absences_names_them() -> None:
    # FHIR contract, "Observations": a standard resting on markers no result covered carries a
    # note naming them (a G-band karyotype cannot show TP53, ABL-class or iAMP21).
    karyotype = Genetics(
        evaluated=True, explicit=frozenset({"BCR-ABL1", "KMT2A", "TCF3", "hypodiploidy"})
    )
    standard = assess(make_inputs("late", "isolated_marrow", genetics=karyotype), AS_OF)
    assert standard.schemes["inpog"].group == "standard"
    assert standard.schemes["inpog"].notes == (
        "Standard rests on high-risk markers no result covered: ABL-class, iAMP21, TP53.",
    )
    covered = Genetics(evaluated=True, explicit=frozenset(HIGH_RISK_MARKERS))
    assert (
        assess(make_inputs("late", "isolated_marrow", genetics=covered), AS_OF)
        .schemes["inpog"]
        .notes
        == ()
    )
    # A high group does not rest on the absences: no note.
    high = assess(make_inputs("early", "isolated_marrow", genetics=karyotype), AS_OF)
    assert (high.schemes["inpog"].group, high.schemes["inpog"].notes) == ("high", ())
