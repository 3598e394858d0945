"""ALLR3 (`ALLR3`; risk-schemes.md §3.2): the BFM cells, grouped as Table 1 of Sidhu et al.
(review, 2023) does."""

from __future__ import annotations

from service.domain.facts import Facts
from service.domain.schemes import bfm
from service.domain.schemes.cell import Cell, first_relapse_only, mpal, table_cell
from service.domain.schemes.scheme import Scheme
from service.domain.sites import ISOLATED_EXTRAMEDULLARY
from service.domain.timing import VERY_EARLY

RULE = "ALLR3"
FROM_BFM: dict[str, str] = {"S1": "standard", "S2": "intermediate", "S3": "high", "S4": "high"}
VERY_EARLY_IEM_NOTE = (
    "Some secondary tables place a very early isolated extramedullary relapse in ALLR3 high "
    "risk; this follows Table 1 of the review by Sidhu et al. (2023): intermediate."
)

# The world dimensions (facts.Space) this scheme reads.
READS = frozenset({"lineage", "dx", "eot", "sites"})


def classify(f: Facts) -> Cell:
    excluded = first_relapse_only(f, RULE, "ALLR3") or mpal(f, RULE, "ALLR3")
    if excluded:
        return excluded
    s = bfm.strategic_group(f)
    group = FROM_BFM[s]
    notes: tuple[str, ...] = ()
    if f.timing_bfm == VERY_EARLY and f.pattern == ISOLATED_EXTRAMEDULLARY:
        notes = (VERY_EARLY_IEM_NOTE,)
    return Cell(group, RULE, f"{table_cell(f)} → {s} → {group}", notes)


SCHEME = Scheme(
    key="allr3",
    title="ALLR3",
    full_title="ALLR3",
    rule=RULE,
    reads=READS,
    classify=classify,
    plans={"standard": "PATH-2", "intermediate": "PATH-3", "high": "PATH-4"},
    mrd_threshold=1e-4,
)
