"""What would change the answer: re-decide with one unknown input fixed to each value it could
take, and keep the values that change the primary group or the plan."""

from __future__ import annotations

from service.domain.assessment import Change, Pathway, SchemeResult
from service.domain.facts import Patch, Space
from service.domain.inputs import RelapseInputs
from service.domain.pathway import PLAN_RULE_IDS, pathway_for
from service.domain.schemes import TITLES, assess_scheme

_GENETICS: dict[tuple[object, ...], str] = {
    (False, False, False): "no high-risk genetic marker",
    (True, False, False): "a high-risk marker other than BCR-ABL1 and TP53 (e.g. KMT2A)",
    (True, True, False): "BCR-ABL1 present",
    (True, False, True): "TP53 alteration present",
}


def _condition(key: str, patch: Patch) -> str | None:
    values = dict(patch)
    if key == "mrd":
        return f"post-induction MRD {values['mrd']}"
    if key == "genetics":
        flags = (values["high_risk_genetics"], values["bcr_abl1"], values["tp53"])
        return _GENETICS.get(flags)
    if key == "eot":
        if values["within6"]:
            return "relapse < 6 months after the end of frontline therapy (or on therapy)"
        return "relapse ≥ 6 months after the end of frontline therapy"
    return f"{values['lineage']} lineage"


def what_would_change(
    inputs: RelapseInputs,
    space: Space,
    primary: str,
    scheme: SchemeResult,
    pathway: Pathway,
) -> tuple[Change, ...]:
    candidates = (
        ("mrd", "mrd", True),
        ("genetics", "genetics", True),
        ("eot", "end_of_therapy", inputs.end_of_therapy is None),
        ("lineage", "lineage", inputs.lineage is None),
    )
    # Fixing an input that made no difference cannot change a decided or undecided answer.
    deciding = set(scheme.missing) | set(pathway.decided_by)
    changes: list[Change] = []
    for key, name, unknown in candidates:
        dim = space.dim(key)
        if not unknown or len(dim.values) < 2 or not deciding & set(dim.names):
            continue
        for patch in dim.values:
            condition = _condition(key, patch)
            if condition is None:
                continue
            narrowed = space.restrict(key, (patch,))
            result = assess_scheme(primary, narrowed)
            plan = pathway_for(narrowed, primary, result)
            effects = []
            if result.group != scheme.group:
                effects.append(f"{TITLES[primary]}: {result.group} ({result.rule})")
            if plan.plan != pathway.plan:
                rule = next((r for r in plan.rules if r in PLAN_RULE_IDS), None)
                effects.append(f"plan: {plan.plan}" + (f" ({rule})" if rule else ""))
            if effects:
                changes.append(Change(name, condition, "; ".join(effects)))
    return tuple(changes)
