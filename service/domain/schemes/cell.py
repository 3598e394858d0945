"""What one scheme answers in one fully known world: the group and the table cell that chose it."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.assessment import NOT_APPLICABLE
from service.domain.facts import Facts
from service.domain.inputs import Lineage
from service.domain.sites import COMBINED, ISOLATED_EXTRAMEDULLARY, ISOLATED_MARROW
from service.domain.words import PATTERN_WORDS, TIMING_WORDS

# Column order of the spec's tables (isolated EM, combined, isolated marrow).
COLUMNS: tuple[str, ...] = (ISOLATED_EXTRAMEDULLARY, COMBINED, ISOLATED_MARROW)


@dataclass(frozen=True, slots=True)
class Cell:
    group: str
    rule: str
    reason: str  # names the table cell, e.g. "B lineage, late, combined → S2"
    notes: tuple[str, ...] = ()


def first_relapse_only(f: Facts, rule: str, title: str) -> Cell | None:
    """§8: a first-relapse scheme does not classify a second or later relapse."""
    if f.later_relapse:
        return Cell(
            NOT_APPLICABLE, rule, f"Second or later relapse: {title} classifies first relapses."
        )
    return None


def table_cell(f: Facts) -> str:
    """Lineage, BFM timing and site pattern in words."""
    return f"{f.lineage.value} lineage, {TIMING_WORDS[f.timing_bfm]}, {PATTERN_WORDS[f.pattern]}"


def mpal(f: Facts, rule: str, title: str) -> Cell | None:
    if f.lineage is Lineage.MPAL:
        return Cell(NOT_APPLICABLE, rule, f"Mixed phenotype (MPAL): {title} does not apply.")
    return None
