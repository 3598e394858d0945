"""IntReALL 2010 (`INTREALL`; risk-schemes.md §3.4), with the trial's exclusions."""

from __future__ import annotations

from service.domain.assessment import NOT_APPLICABLE
from service.domain.facts import Facts
from service.domain.inputs import Lineage
from service.domain.schemes.cell import COLUMNS, Cell, first_relapse_only, mpal, table_cell
from service.domain.timing import EARLY, LATE, VERY_EARLY

RULE = "INTREALL"
#                                     isolated EM, combined, isolated marrow
TABLE: dict[tuple[Lineage, str], tuple[str, str, str]] = {
    (Lineage.B, VERY_EARLY): ("high", "high", "high"),
    (Lineage.B, EARLY): ("standard", "standard", "high"),
    (Lineage.B, LATE): ("standard", "standard", "standard"),
    (Lineage.T, VERY_EARLY): ("high", "high", "high"),
    (Lineage.T, EARLY): ("standard", "high", "high"),
    (Lineage.T, LATE): ("standard", "high", "high"),
}

# The world dimensions (facts.Space) this scheme reads.
READS = frozenset({"lineage", "dx", "eot", "sites", "genetics"})


def classify(f: Facts) -> Cell:
    excluded = first_relapse_only(f, RULE, "IntReALL") or mpal(f, RULE, "IntReALL")
    if excluded:
        return excluded
    if f.bcr_abl1:
        return Cell(NOT_APPLICABLE, RULE, "BCR-ABL1-positive disease: excluded from IntReALL.")
    if f.prior_hsct:
        return Cell(NOT_APPLICABLE, RULE, "Relapse after allogeneic HSCT: excluded from IntReALL.")
    group = TABLE[(f.lineage, f.timing_bfm)][COLUMNS.index(f.pattern)]
    return Cell(group, RULE, f"{table_cell(f)} → {group}")
