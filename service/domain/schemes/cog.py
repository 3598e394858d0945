"""COG (`COG`; risk-schemes.md §3.3, AALL1331), with TIME-COG."""

from __future__ import annotations

from service.domain.facts import Facts
from service.domain.inputs import Lineage
from service.domain.schemes.cell import Cell, first_relapse_only, mpal
from service.domain.schemes.scheme import Scheme
from service.domain.timing import EARLY

RULE = "COG"
MRD_THRESHOLD = 1e-3

# The world dimensions (facts.Space) this scheme reads.
READS = frozenset({"lineage", "dx", "sites", "mrd"})


def classify(f: Facts) -> Cell:
    excluded = first_relapse_only(f, RULE, "COG") or mpal(f, RULE, "COG")
    if excluded:
        return excluded
    if f.lineage is Lineage.T:
        return Cell("high", RULE, "T lineage, any site and time → high")
    if f.timing_cog == EARLY:
        return Cell("high", RULE, "B lineage, early (COG timing), any site → high")
    if f.mrd.below(MRD_THRESHOLD):
        return Cell("low", RULE, "B lineage, late, post-induction MRD < 1e-3 → low")
    return Cell("intermediate", RULE, "B lineage, late, post-induction MRD ≥ 1e-3 → intermediate")


SCHEME = Scheme(
    key="cog",
    title="COG",
    full_title="COG (AALL1331)",
    rule=RULE,
    reads=READS,
    classify=classify,
    # AALL1331: intermediate risk goes on to HSCT like high risk (PATH-4).
    plans={"low": "PATH-2", "intermediate": "PATH-4", "high": "PATH-4"},
    mrd_threshold=MRD_THRESHOLD,
    timing="cog",
)
