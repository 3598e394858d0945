"""The treatment pathway (risk-schemes.md §4, PATH-0…PATH-9), following the primary scheme.

Plan resolution (§4): the plan is worked out in every possible world of the missing inputs. One
plan in every world is the plan; a plan that the post-induction MRD alone decides is
`mrd_directed`, with the threshold it turns on; anything else is `indeterminate`, naming the
inputs that decide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from service.domain import schemes
from service.domain.assessment import NOT_APPLICABLE, Addition, Pathway, Plan, SchemeResult
from service.domain.facts import DIMENSIONS, Facts, MrdBand, Space, decide
from service.domain.inputs import Lineage, Site
from service.domain.words import PLAN_WORDS, groups_words, input_names, mrd_percent

SUPPORTIVE_CARE = frozenset({(Addition.SUPPORTIVE_CARE, "PATH-9")})


@dataclass(frozen=True, slots=True)
class WorldPlan:
    """The plan in one fully known world."""

    plan: Plan
    rules: tuple[str, ...]  # the rules that chose the plan (PATH-0…PATH-4, PATH-6)
    scheme: str  # the scheme followed
    group: str  # its group
    additions: frozenset[tuple[Addition, str]]  # (addition, PATH id)

    @property
    def key(self) -> tuple[Plan, str]:
        return (self.plan, self.scheme)


@lru_cache(maxsize=8192)
def world_plan(f: Facts, primary: str) -> WorldPlan:
    # Cached: plan resolution, the MRD check and "what would change" revisit the same worlds.
    if f.later_relapse or f.refractory:
        return WorldPlan(Plan.RELAPSED_REFRACTORY, ("PATH-1",), primary, "", SUPPORTIVE_CARE)
    scheme, rules = schemes.get_scheme(primary), tuple[str, ...]()
    group = scheme.classify(f).group
    if group == NOT_APPLICABLE:
        # PATH-0: the first scheme that applies, in the spec's order (that of SCHEMES).
        applying = [s for s in schemes.SCHEMES if s.classify(f).group != NOT_APPLICABLE]
        if not applying:
            return WorldPlan(Plan.INDETERMINATE, (), primary, group, SUPPORTIVE_CARE)
        scheme, rules = applying[0], ("PATH-0",)
        group = scheme.classify(f).group
    rule = scheme.rule_for(f, group)
    if rule == "PATH-3":
        below = f.mrd.below(scheme.mrd_threshold)
        plan = Plan.CHEMOTHERAPY if below else Plan.CHEMOTHERAPY_THEN_HSCT
    else:
        plan = Plan.CHEMOTHERAPY if rule == "PATH-2" else Plan.CHEMOTHERAPY_THEN_HSCT
    rules += (rule,)
    if f.tp53 and plan == Plan.CHEMOTHERAPY:
        plan, rules = Plan.CHEMOTHERAPY_THEN_HSCT, (*rules, "PATH-6")
    additions = set(SUPPORTIVE_CARE)
    # PATH-5 follows the plan after PATH-6, not the risk group.
    if f.lineage is Lineage.B and f.marrow and plan == Plan.CHEMOTHERAPY_THEN_HSCT:
        additions.add((Addition.BLINATUMOMAB, "PATH-5"))
    if f.tp53:
        additions.add((Addition.HSCT_REGARDLESS_OF_MRD, "PATH-6"))
    if Site.CNS in f.sites:
        additions.add((Addition.CRANIAL_IRRADIATION, "PATH-7"))
    if Site.TESTIS in f.sites:
        additions.add((Addition.TESTICULAR_LOCAL_THERAPY, "PATH-7"))
    if f.lineage is Lineage.T:
        additions.add((Addition.T_LINEAGE_AGENTS, "PATH-8"))
    return WorldPlan(plan, rules, scheme.key, group, frozenset(additions))


def _by_rule(rules: set[str]) -> tuple[str, ...]:
    return tuple(sorted(rules, key=lambda r: int(r.split("-")[1])))


def _mrd_threshold(space: Space, primary: str) -> float | None:
    """The threshold when the post-induction MRD alone decides the plan, else None.

    It does when every MRD band gives one plan whatever the other unknowns are, the bands below
    some threshold giving chemotherapy and those at or above it chemotherapy then HSCT.
    """
    bands = space.dim("mrd").values
    keys: list[tuple[Plan, str]] = []
    for band in bands:
        narrowed = space.restrict("mrd", (band,))
        plans_here = {world_plan(f, primary).key for _, f in narrowed.worlds()}
        if len(plans_here) != 1:
            return None
        keys.append(plans_here.pop())
    plans = [plan for plan, _ in keys]
    below = plans.count(Plan.CHEMOTHERAPY)
    split = [Plan.CHEMOTHERAPY] * below + [Plan.CHEMOTHERAPY_THEN_HSCT] * (len(plans) - below)
    if len(set(keys)) != 2 or plans != split or len({s for _, s in keys}) != 1:
        return None
    # The highest band giving chemotherapy; its upper bound is the threshold.
    highest = dict(bands[below - 1])["mrd"]
    return highest.upper_bound if isinstance(highest, MrdBand) else None


def pathway_for(space: Space, primary: str, scheme: SchemeResult) -> Pathway:
    """The plan in every world of `space` (§4 plan resolution), with PATH-0 and the additions.

    `scheme` is the primary scheme's result, quoted when PATH-0 hands over.
    """
    decision = decide(space, lambda f: world_plan(f, primary), DIMENSIONS, key=lambda w: w.key)
    worlds = decision.outcomes
    # An addition is listed only when its condition holds in every world.
    held = frozenset.intersection(*(w.additions for w in worlds))
    followed = worlds[0].scheme if len({w.scheme for w in worlds}) == 1 else primary
    title = schemes.get_scheme(followed).title
    groups = groups_words(sorted({w.group for w in worlds}))
    handover = (
        f"{scheme.reason} PATH-0: following {title}, the first scheme that applies. "
        if all("PATH-0" in w.rules for w in worlds)
        else ""
    )
    threshold: float | None = None
    decided_by: tuple[str, ...] = ()
    plan_rules = _by_rule({r for w in worlds for r in w.rules})
    first = worlds[0]
    single_group = len({w.group for w in worlds}) == 1
    plan: Plan
    if decision.decided and first.plan == Plan.RELAPSED_REFRACTORY:
        plan = first.plan
        why = "Second or later relapse" if space.fixed.later_relapse else "Refractory disease"
        reason = f"{why} → {PLAN_WORDS[plan]} (PATH-1)."
    elif decision.decided and first.plan == Plan.INDETERMINATE:
        plan = Plan.INDETERMINATE
        reason = f"No scheme applies: {scheme.reason}"
    elif decision.decided:
        plan = first.plan
        either = "" if single_group else " either way"
        rules = ", ".join(plan_rules)
        reason = f"{handover}{title} {groups} → {PLAN_WORDS[plan]}{either} ({rules})."
        if single_group and [r for r in plan_rules if r != "PATH-0"] == ["PATH-3"]:
            side = "<" if plan == Plan.CHEMOTHERAPY else "≥"
            label = mrd_percent(schemes.get_scheme(followed).mrd_threshold)
            reason = (
                f"{handover}{title} {groups}, post-induction MRD {side} {label} → "
                f"{PLAN_WORDS[plan]} (PATH-3)."
            )
        if "PATH-6" in plan_rules:
            reason += " TP53 alteration: HSCT regardless of MRD (PATH-6)."
    elif (threshold := _mrd_threshold(space, primary)) is not None:
        plan, decided_by = Plan.MRD_DIRECTED, ("mrd",)
        label = mrd_percent(threshold)
        reason = (
            f"{handover}{title} {groups}: the post-induction MRD decides — ≥ {label} "
            f"chemotherapy then HSCT, < {label} chemotherapy ({', '.join(plan_rules)})."
        )
    else:
        plan, decided_by = Plan.INDETERMINATE, decision.missing
        plan_rules = ("PATH-0",) if handover else ()
        reason = f"{handover}{title} {groups}: the plan depends on {input_names(decision.missing)}."
        if "genetics" in decision.missing and any("PATH-6" in w.rules for w in worlds):
            reason += " A TP53 alteration would mean HSCT regardless of MRD (PATH-6)."
    additions = [a for a in Addition if any(a == name for name, _ in held)]
    addition_rules = {r for _, r in held}
    return Pathway(
        scheme=followed,
        primary=primary,
        plan=plan,
        additions=tuple(additions),
        rules=_by_rule({*plan_rules, *addition_rules}),
        reason=reason,
        decided_by=decided_by,
        threshold=threshold,
        plan_rules=plan_rules,
    )
