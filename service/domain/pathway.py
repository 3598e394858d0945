"""The treatment pathway (risk-schemes.md §4, PATH-1…PATH-9), following the primary scheme."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.assessment import INDETERMINATE, NOT_APPLICABLE, Pathway, SchemeResult
from service.domain.facts import Facts, Space, decide
from service.domain.inputs import Lineage, Site
from service.domain.schemes import CLASSIFIERS, READS, TITLES

CHEMOTHERAPY = "chemotherapy"
MRD_DIRECTED = "mrd_directed"
CHEMOTHERAPY_THEN_HSCT = "chemotherapy_then_hsct"
RELAPSED_REFRACTORY = "relapsed_refractory"

# PATH-2 standard, PATH-3 intermediate (MRD decides), PATH-4 high.
PLAN_RULES: dict[tuple[str, str], str] = {
    ("bfm", "S1"): "PATH-2",
    ("bfm", "S2"): "PATH-3",
    ("bfm", "S3"): "PATH-4",
    ("bfm", "S4"): "PATH-4",
    ("allr3", "standard"): "PATH-2",
    ("allr3", "intermediate"): "PATH-3",
    ("allr3", "high"): "PATH-4",
    ("cog", "low"): "PATH-2",
    ("cog", "intermediate"): "PATH-4",
    ("cog", "high"): "PATH-4",
    ("intreall", "standard"): "PATH-2",  # PATH-3 when the marrow is involved
    ("intreall", "high"): "PATH-4",
    ("inpog", "standard"): "PATH-2",
    ("inpog", "high"): "PATH-4",
}
PLAN_RULE_IDS = frozenset({"PATH-1", "PATH-2", "PATH-3", "PATH-4"})
PATH3_THRESHOLDS: dict[str, float] = {"bfm": 1e-3, "intreall": 1e-3, "allr3": 1e-4}
_LABELS = {1e-3: "1e-3", 1e-4: "1e-4"}
# Additions in the order `Pathway.additions` lists them.
ADDITIONS: tuple[str, ...] = (
    "blinatumomab",
    "hsct_regardless_of_mrd",
    "cranial_irradiation",
    "testicular_local_therapy",
    "t_lineage_agents",
    "supportive_care",
)


@dataclass(frozen=True, slots=True)
class WorldPlan:
    """The plan in one fully known world."""

    plan: str
    rule: str | None  # PATH-1…PATH-4, None when no scheme applies
    group: str
    additions: frozenset[tuple[str, str]]  # (addition, PATH id)


def world_plan(f: Facts, primary: str) -> WorldPlan:
    if f.later_relapse or f.refractory:
        return WorldPlan(
            RELAPSED_REFRACTORY, "PATH-1", "", frozenset({("supportive_care", "PATH-9")})
        )
    group = CLASSIFIERS[primary](f).group
    plan, rule = INDETERMINATE, None
    if group != NOT_APPLICABLE:
        rule = PLAN_RULES[(primary, group)]
        if primary == "intreall" and group == "standard" and f.marrow:
            rule = "PATH-3"
        if rule == "PATH-3":
            below = f.mrd.below(PATH3_THRESHOLDS[primary])
            plan = CHEMOTHERAPY if below else CHEMOTHERAPY_THEN_HSCT
        else:
            plan = CHEMOTHERAPY if rule == "PATH-2" else CHEMOTHERAPY_THEN_HSCT
    additions = {("supportive_care", "PATH-9")}
    if f.lineage is Lineage.B and f.marrow and plan == CHEMOTHERAPY_THEN_HSCT:
        additions.add(("blinatumomab", "PATH-5"))
    if f.tp53:
        additions.add(("hsct_regardless_of_mrd", "PATH-6"))
    if Site.CNS in f.sites:
        additions.add(("cranial_irradiation", "PATH-7"))
    if Site.TESTIS in f.sites:
        additions.add(("testicular_local_therapy", "PATH-7"))
    if f.lineage is Lineage.T:
        additions.add(("t_lineage_agents", "PATH-8"))
    return WorldPlan(plan, rule, group, frozenset(additions))


def pathway_for(space: Space, primary: str, scheme: SchemeResult) -> Pathway:
    """The plan when every world agrees; `mrd_directed` when only the MRD result decides."""
    reads = READS[primary] | {"lineage", "sites", "mrd", "genetics"}
    decision = decide(
        space, lambda f: world_plan(f, primary), reads, key=lambda w: (w.plan, w.rule)
    )
    # An addition is listed only when its condition holds in every world.
    held = frozenset.intersection(*(w.additions for w in decision.outcomes))
    additions = tuple(a for a in ADDITIONS if any(a == name for name, _ in held))
    addition_rules = sorted({r for _, r in held}, key=lambda r: int(r.split("-")[1]))
    title = TITLES[primary]
    first = decision.outcomes[0]
    plan, rule = INDETERMINATE, None
    decided_by: tuple[str, ...] = ()
    if decision.decided and first.rule == "PATH-1":
        plan, rule = first.plan, first.rule
        why = "Second or later relapse" if space.fixed.later_relapse else "Refractory disease"
        reason = f"{why} → {plan} (PATH-1)."
    elif scheme.group == INDETERMINATE:
        decided_by = scheme.missing
        reason = f"{title} group indeterminate: needs {', '.join(scheme.missing)}."
    elif scheme.group == NOT_APPLICABLE:
        reason = f"No scheme applies: {scheme.reason}"
    elif decision.decided:
        plan, rule = first.plan, first.rule
        reason = f"{title} {scheme.group} → {plan} ({rule})."
        if rule == "PATH-3":
            side = "<" if plan == CHEMOTHERAPY else "≥"
            threshold = PATH3_THRESHOLDS[primary]
            reason = (
                f"{title} {scheme.group}, post-induction MRD {side} {_LABELS[threshold]} "
                f"→ {plan} (PATH-3)."
            )
    elif decision.missing == ("mrd",) and all(w.rule == "PATH-3" for w in decision.outcomes):
        plan, rule, decided_by = MRD_DIRECTED, "PATH-3", ("mrd",)
        threshold = PATH3_THRESHOLDS[primary]
        reason = (
            f"{title} {scheme.group}: post-induction MRD against {_LABELS[threshold]} decides "
            "between chemotherapy and chemotherapy then HSCT (PATH-3)."
        )
    else:
        decided_by = decision.missing
        reason = f"{title} {scheme.group}: the plan depends on {', '.join(decision.missing)}."
    if plan == RELAPSED_REFRACTORY:
        additions, addition_rules = ("supportive_care",), ["PATH-9"]
    rules = ((rule,) if rule else ()) + tuple(addition_rules)
    return Pathway(primary, plan, additions, rules, reason, decided_by)
