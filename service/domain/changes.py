"""What would change the answer (issue 8, point 5): for every undecided risk group and for an
undecided plan, each missing input that makes the difference and the answer each of its values
would give, the other missing inputs left unknown."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from service.domain.assessment import INDETERMINATE, Change, Pathway, Plan, SchemeResult
from service.domain.facts import DIMENSIONS, INPUT_NAMES, Dimension, MrdBand, Patch, Space
from service.domain.inputs import Site
from service.domain.pathway import pathway_for
from service.domain.schemes import assess_scheme, get_scheme, scheme_keys
from service.domain.sites import pattern_of
from service.domain.words import PATTERN_WORDS, SITE_WORDS

PLAN = "plan"  # the `target` of a change to the plan; the others are scheme keys
UNDECIDED_PLANS = frozenset({Plan.MRD_DIRECTED, Plan.INDETERMINATE})

_GENETICS: dict[tuple[object, object], str] = {
    (False, False): "no high-risk genetic marker",
    (True, False): "a high-risk marker other than TP53 (e.g. BCR-ABL1, KMT2A)",
    (True, True): "TP53 alteration present",
}
_GENETICS_TOGETHER: dict[frozenset[tuple[object, object]], str] = {
    frozenset({(False, False), (True, False)}): "no TP53 alteration",
    frozenset({(True, False), (True, True)}): "any high-risk marker (TP53 or another)",
}
# What each input dimension measures, for "whatever the …".
_QUANTITY = {
    "lineage": "lineage",
    "dx": "time from diagnosis to relapse",
    "eot": "time from the end of frontline therapy to relapse",
    "sites": "relapse sites",
    "mrd": "post-induction MRD",
    "genetics": "genetics",
    "age": "age at diagnosis",
    "refractory": "response to reinduction",
}
# Ordered inputs: each value's (lower, upper) bound in words; neighbours giving one answer read
# as one range ("post-induction MRD < 0.1 %").
_RANGES: dict[str, tuple[str, dict[object, tuple[str | None, str | None]]]] = {
    "mrd": (
        "post-induction MRD {}",
        {
            MrdBand.BELOW_1E4: (None, "0.01 %"),
            MrdBand.BELOW_1E3: ("0.01 %", "0.1 %"),
            MrdBand.AT_LEAST_1E3: ("0.1 %", None),
        },
    ),
    "dx": (
        "relapse {} months after diagnosis",
        {(True, True): (None, "18"), (False, True): ("18", "36"), (False, False): ("36", None)},
    ),
}


def _condition(key: str, patch: Patch) -> str:
    """One value of one input, in words."""
    values = dict(patch)
    if key == "genetics":
        return _GENETICS[_genetics(patch)]
    if key == "eot":
        if values["within6"]:
            return "relapse < 6 months after the end of frontline therapy (or on therapy)"
        return "relapse ≥ 6 months after the end of frontline therapy"
    if key == "sites":
        sites = _sites(patch)
        named = ", ".join(SITE_WORDS[s] for s in Site if s in sites)
        return f"{PATTERN_WORDS[pattern_of(sites)]} relapse ({named})"
    if key == "age":
        return "age ≥ 15 years at diagnosis" if values["age15"] else "age < 15 years at diagnosis"
    if key == "lineage":
        return f"{values['lineage']} lineage"
    if key == "refractory":
        failure = "induction failure" if values["refractory"] else "no induction failure"
        return f"response to reinduction: {failure}"
    raise ValueError(f"no words for the input dimension {key!r}")


def _range(low: str | None, high: str | None) -> str:
    if low is None:
        return f"< {high}"
    return f"≥ {low}" if high is None else f"{low} to < {high}"


def _range_value(key: str, patch: Patch) -> object:
    values = dict(patch)
    return values["mrd"] if key == "mrd" else (values["lt18"], values["lt36"])


def _genetics(patch: Patch) -> tuple[object, object]:
    values = dict(patch)
    return (values["high_risk_genetics"], values["tp53"])


def _sites(patch: Patch) -> frozenset[Site]:
    return cast(frozenset[Site], dict(patch)["sites"])


def _words(dim: Dimension, patches: list[Patch]) -> str:
    """The values of one input that give one answer, in words."""
    if dim.key in _RANGES:
        template, bounds = _RANGES[dim.key]
        runs: list[list[tuple[str | None, str | None]]] = []
        previous_in = False
        for patch in dim.values:
            if patch in patches:
                bound = bounds[_range_value(dim.key, patch)]
                if previous_in:
                    runs[-1].append(bound)
                else:
                    runs.append([bound])
            previous_in = patch in patches
        return " or ".join(template.format(_range(run[0][0], run[-1][1])) for run in runs)
    if dim.key == "sites":
        # A site pattern whose every site set gives this answer is named by the pattern alone.
        by_pattern: dict[str, list[Patch]] = {}
        for patch in dim.values:
            by_pattern.setdefault(pattern_of(_sites(patch)), []).append(patch)
        parts = []
        for pattern, members in by_pattern.items():
            named = [p for p in members if p in patches]
            if len(named) == len(members):
                parts.append(f"{PATTERN_WORDS[pattern]} relapse")
            else:
                parts += [_condition(dim.key, p) for p in named]
        return " or ".join(parts)
    if dim.key == "genetics":
        flags = frozenset(_genetics(p) for p in patches)
        if flags in _GENETICS_TOGETHER:
            return _GENETICS_TOGETHER[flags]
    return " or ".join(_condition(dim.key, p) for p in patches)


Answer = tuple[str, tuple[str, ...], tuple[str, ...], float | None]  # answer, rules, missing, thr


def _changes_for(
    space: Space,
    target: str,
    missing: tuple[str, ...],
    reads: frozenset[str],
    answer: Callable[[Space], Answer],
) -> list[Change]:
    """Per missing input: one change per answer its values give; the values that leave the
    answer undecided are one change naming what would still be missing."""
    changes: list[Change] = []
    for dim in space.dims:
        names = tuple(n for n in dim.names if n in missing)
        if len(dim.values) < 2 or not names or dim.key not in reads:
            continue
        decided: dict[Answer, list[Patch]] = {}
        undecided: list[tuple[Answer, Patch]] = []
        for patch in dim.values:
            found = answer(space.restrict(dim.key, (patch,)))
            if found[0] == INDETERMINATE:
                undecided.append((found, patch))
            else:
                decided.setdefault(found, []).append(patch)
        for (value, rules, still, threshold), patches in decided.items():
            changes.append(
                Change(target, names, _words(dim, patches), value, rules, still, threshold)
            )
        if undecided:
            needed = {n for a, _ in undecided for n in a[2]}
            rest = [p for _, p in undecided]
            changes.append(
                Change(
                    target,
                    names,
                    _words(dim, rest) if decided else f"whatever the {_QUANTITY[dim.key]}",
                    INDETERMINATE,
                    tuple(dict.fromkeys(r for a, _ in undecided for r in a[1])),
                    tuple(n for n in INPUT_NAMES if n in needed),
                )
            )
    return changes


def what_would_change(
    space: Space,
    primary: str,
    schemes: dict[str, SchemeResult],
    pathway: Pathway,
) -> tuple[Change, ...]:
    """The plan's changes first, then each undecided scheme's, in the registry's order."""

    def plan_answer(narrowed: Space) -> Answer:
        p = pathway_for(narrowed, primary, assess_scheme(primary, narrowed))
        return (p.plan.value, p.plan_rules, p.decided_by, p.threshold)

    changes: list[Change] = []
    if pathway.plan in UNDECIDED_PLANS:
        changes += _changes_for(space, PLAN, pathway.decided_by, DIMENSIONS, plan_answer)
    for key in scheme_keys():
        result = schemes[key]
        if result.group != INDETERMINATE:
            continue

        def scheme_answer(narrowed: Space, key: str = key) -> Answer:
            r = assess_scheme(key, narrowed)
            return (r.group, (r.rule,), r.missing, None)

        changes += _changes_for(space, key, result.missing, get_scheme(key).reads, scheme_answer)
    return tuple(changes)
