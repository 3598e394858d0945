"""One declaration per scheme: everything the domain, the cards and the app need to know of it.

Each scheme module declares one `Scheme`; `service.domain.schemes.SCHEMES` lists them, and every
other table (titles, reads, plan rules, thresholds, timing, PATH-0 order) is derived from that
list. `check` runs at import, so a declaration that does not fit fails loudly, never silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from service.domain.assessment import INDETERMINATE, NOT_APPLICABLE
from service.domain.facts import DIMENSIONS, MRD_THRESHOLDS, Facts
from service.domain.schemes.cell import Cell

# The plan rules a group can lead to (risk-schemes.md §4): standard, MRD decides, high.
PLAN_RULE_IDS = frozenset({"PATH-2", "PATH-3", "PATH-4"})
# The Timing fields a scheme can use (risk-schemes.md §2.1); CALL-0603 timing is for figures only.
TIMINGS = frozenset({"bfm", "cog"})


@dataclass(frozen=True, slots=True)
class Scheme:
    key: str  # as configured and in the assessment JSON, e.g. "bfm"
    title: str  # short, as reasons name it, e.g. "BFM"
    full_title: str  # as tables and cards head it, e.g. "BFM (ALL-REZ BFM strategic groups)"
    rule: str  # the base rule id, cited when no table cell applies
    reads: frozenset[str]  # the world dimensions (facts.Space) `classify` depends on
    classify: Callable[[Facts], Cell]
    plans: Mapping[str, str]  # group → PATH-2 / PATH-3 / PATH-4; its keys are the groups
    mrd_threshold: float  # the post-induction MRD threshold of PATH-3 and plan resolution (§4)
    timing: str = "bfm"  # the Timing field it uses (§2.1)
    # A plan rule that needs more than the group (IntReALL standard with marrow → PATH-3).
    plan_rule: Callable[[Facts, str], str] | None = field(default=None)

    def rule_for(self, f: Facts, group: str) -> str:
        """The plan rule (PATH-2/3/4) for `group` in the world `f`."""
        return self.plans[group] if self.plan_rule is None else self.plan_rule(f, group)


def check(schemes: tuple[Scheme, ...]) -> None:
    """Raise ValueError when a declaration does not fit the rest of the domain."""
    keys = [s.key for s in schemes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"scheme keys repeat: {keys}")
    for s in schemes:
        problems = []
        if not s.reads <= DIMENSIONS:
            problems.append(f"reads unknown dimensions {sorted(s.reads - DIMENSIONS)}")
        if s.mrd_threshold not in MRD_THRESHOLDS:
            # facts.MrdBand knows only these thresholds; a new one needs a new band there.
            problems.append(f"MRD threshold {s.mrd_threshold} is not one of {MRD_THRESHOLDS}")
        if s.timing not in TIMINGS:
            problems.append(f"timing {s.timing!r} is not one of {sorted(TIMINGS)}")
        if not s.plans or {INDETERMINATE, NOT_APPLICABLE} & set(s.plans):
            problems.append("plans must map the scheme's own groups")
        if not set(s.plans.values()) <= PLAN_RULE_IDS:
            problems.append(f"plan rules must be among {sorted(PLAN_RULE_IDS)}")
        if not (s.title and s.full_title and s.rule):
            problems.append("titles and base rule are required")
        if problems:
            raise ValueError(f"scheme {s.key!r}: {'; '.join(problems)}")
