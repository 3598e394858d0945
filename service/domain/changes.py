"""What would change the answer: re-decide with one unknown input fixed to each value it could
take, and keep the values that change the primary group or the plan."""

from __future__ import annotations

from service.domain.assessment import Change, Pathway, SchemeResult
from service.domain.facts import Patch, Space
from service.domain.inputs import RelapseInputs
from service.domain.pathway import pathway_for
from service.domain.schemes import assess_scheme, get_scheme

_GENETICS: dict[tuple[object, ...], str] = {
    (False, False): "no high-risk genetic marker",
    (True, False): "a high-risk marker other than TP53 (e.g. BCR-ABL1, KMT2A)",
    (True, True): "TP53 alteration present",
}


def _condition(key: str, patch: Patch) -> str:
    values = dict(patch)
    if key == "mrd":
        return f"post-induction MRD {values['mrd']}"
    if key == "genetics":
        flags = (values["high_risk_genetics"], values["tp53"])
        return _GENETICS[flags]
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
            narrowed = space.restrict(key, (patch,))
            result = assess_scheme(primary, narrowed)
            plan = pathway_for(narrowed, primary, result)
            effects = []
            if result.group != scheme.group:
                effects.append(f"{get_scheme(primary).title}: {result.group} ({result.rule})")
            if plan.plan != pathway.plan:
                rules = ", ".join(plan.plan_rules)
                effects.append(f"plan: {plan.plan}" + (f" ({rules})" if rules else ""))
            if effects:
                changes.append(Change(name, condition, "; ".join(effects)))
    return tuple(changes)
