"""BFM strategic groups (`BFM-B`, `BFM-T`; risk-schemes.md §3.1)."""

from __future__ import annotations

from service.domain.facts import Facts
from service.domain.inputs import Lineage
from service.domain.schemes.cell import COLUMNS, Cell, first_relapse_only, mpal, table_cell
from service.domain.schemes.scheme import Scheme
from service.domain.timing import EARLY, LATE, VERY_EARLY

#                                     isolated EM, combined, isolated marrow
TABLE: dict[tuple[Lineage, str], tuple[str, str, str]] = {
    (Lineage.B, VERY_EARLY): ("S2", "S4", "S4"),
    (Lineage.B, EARLY): ("S2", "S2", "S3"),
    (Lineage.B, LATE): ("S1", "S2", "S2"),
    (Lineage.T, VERY_EARLY): ("S2", "S4", "S4"),
    (Lineage.T, EARLY): ("S2", "S4", "S4"),
    (Lineage.T, LATE): ("S1", "S4", "S4"),
}

# The world dimensions (facts.Space) this scheme reads.
READS = frozenset({"lineage", "dx", "eot", "sites"})


def rule(lineage: Lineage) -> str:
    return "BFM" if lineage is Lineage.MPAL else f"BFM-{lineage.value}"


def strategic_group(f: Facts) -> str:
    """The S1–S4 cell for B or T lineage."""
    return TABLE[(f.lineage, f.timing_bfm)][COLUMNS.index(f.pattern)]


def classify(f: Facts) -> Cell:
    r = rule(f.lineage)
    excluded = first_relapse_only(f, r, "BFM") or mpal(f, r, "BFM")
    if excluded:
        return excluded
    group = strategic_group(f)
    return Cell(group, r, f"{table_cell(f)} → {group}")


SCHEME = Scheme(
    key="bfm",
    title="BFM",
    full_title="BFM (ALL-REZ BFM strategic groups)",
    rule="BFM",
    reads=READS,
    classify=classify,
    plans={"S1": "PATH-2", "S2": "PATH-3", "S3": "PATH-4", "S4": "PATH-4"},
    mrd_threshold=1e-3,
)
