"""IntReALL 2010 (`INTREALL`; risk-schemes.md §3.4), with the trial's exclusions."""

from __future__ import annotations

from service.domain.assessment import NOT_APPLICABLE
from service.domain.facts import Facts
from service.domain.inputs import Lineage, MarkerStatus
from service.domain.schemes.cell import COLUMNS, Cell, first_relapse_only, mpal, table_cell
from service.domain.schemes.scheme import Scheme
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

# An untested exclusion leaves the group standing (§3, §10); the note says it was not tested.
UNTESTED_BCR_ABL1_NOTE = "Not applicable if BCR-ABL1-positive; genetics not tested."

# The world dimensions (facts.Space) this scheme reads. Its exclusions are fixed facts (§3).
READS = frozenset({"lineage", "dx", "eot", "sites"})


def classify(f: Facts) -> Cell:
    excluded = first_relapse_only(f, RULE, "IntReALL") or mpal(f, RULE, "IntReALL")
    if excluded:
        return excluded
    if f.bcr_abl1 is MarkerStatus.PRESENT:
        return Cell(NOT_APPLICABLE, RULE, "BCR-ABL1-positive disease: excluded from IntReALL.")
    if f.prior_hsct:
        return Cell(NOT_APPLICABLE, RULE, "Relapse after allogeneic HSCT: excluded from IntReALL.")
    group = TABLE[(f.lineage, f.timing_bfm)][COLUMNS.index(f.pattern)]
    notes = (UNTESTED_BCR_ABL1_NOTE,) if f.bcr_abl1 is MarkerStatus.NOT_TESTED else ()
    return Cell(group, RULE, f"{table_cell(f)} → {group}", notes)


PLANS = {"standard": "PATH-2", "high": "PATH-4"}


def plan_rule(f: Facts, group: str) -> str:
    """§4: IntReALL standard is PATH-2 without marrow involvement, PATH-3 (MRD decides) with it."""
    return "PATH-3" if group == "standard" and f.marrow else PLANS[group]


SCHEME = Scheme(
    key="intreall",
    title="IntReALL",
    full_title="IntReALL 2010",
    rule=RULE,
    reads=READS,
    classify=classify,
    plans=PLANS,
    mrd_threshold=1e-3,
    plan_rule=plan_rule,
)
