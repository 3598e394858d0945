"""Small builders for domain tests: a complete first relapse, and dates per timing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from service.domain.inputs import Genetics, Lineage, Mrd, RelapseInputs, Site
from service.domain.thresholds import Comparator

DIAGNOSIS = date(2015, 1, 1)
# Dates giving each BFM timing from DIAGNOSIS. COG timing with the marrow involved matches
# (very early and early < 36 months, late ≥ 36 months).
TIMING_DATES: dict[str, dict[str, Any]] = {
    "very_early": {"relapse_date": date(2016, 1, 1), "end_of_therapy": None, "on_therapy": True},
    "early": {"relapse_date": date(2017, 6, 1), "end_of_therapy": date(2017, 3, 1)},
    "late": {"relapse_date": date(2019, 1, 1), "end_of_therapy": date(2017, 3, 1)},
}
SITES: dict[str, frozenset[Site]] = {
    "isolated_extramedullary": frozenset({Site.CNS}),
    "combined": frozenset({Site.MARROW, Site.CNS}),
    "isolated_marrow": frozenset({Site.MARROW}),
}

BASE = RelapseInputs(
    patient="Patient/p1",
    has_all=True,
    relapsed=True,
    lineage=Lineage.B,
    birth_date=date(2010, 1, 1),
    diagnosis_date=DIAGNOSIS,
    relapse_count=1,
    on_therapy=False,
    sites=SITES["isolated_marrow"],
    mrd=Mrd(1e-5, Comparator.EQ, None),
    genetics=Genetics(evaluated=True),
    **TIMING_DATES["late"],
)


def mrd(value: float, comparator: str = "=") -> Mrd:
    return Mrd(value, Comparator(comparator), None)


def make_inputs(
    timing: str | None = None, pattern: str | None = None, **overrides: Any
) -> RelapseInputs:
    """BASE (B lineage, late isolated marrow, MRD 1e-5, genetics evaluated, age 5) with
    a timing and site pattern by name, and any field overridden."""
    fields: dict[str, Any] = {}
    if timing is not None:
        fields.update({"on_therapy": False, **TIMING_DATES[timing]})
    if pattern is not None:
        fields["sites"] = SITES[pattern]
    fields.update(overrides)
    return replace(BASE, **fields)
