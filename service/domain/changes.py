"""What would change the answer (issue 8, point 5): for every undecided risk group and for an
undecided plan, each missing input that makes the difference and the answer each of its values
would give, the other missing inputs left unknown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from itertools import product
from typing import cast

from dateutil.relativedelta import relativedelta

from service.domain.assessment import INDETERMINATE, Change, Pathway, Plan, SchemeResult
from service.domain.facts import (
    DIMENSIONS,
    INPUT_NAMES,
    Dimension,
    MrdBand,
    Patch,
    Space,
    age_at_diagnosis,
    build_space,
)
from service.domain.inputs import MarkerStatus, RelapseInputs, Site
from service.domain.pathway import pathway_for
from service.domain.schemes import assess_scheme, get_scheme, scheme_keys
from service.domain.sites import pattern_of, site_list
from service.domain.words import PATTERN_WORDS, input_names

PLAN = "plan"  # the `target` of a change to the plan; the others are scheme keys
UNDECIDED_PLANS = frozenset({Plan.MRD_DIRECTED, Plan.INDETERMINATE})

# Genetics values by name: none / other (a high-risk marker, not TP53) / bcr (BCR-ABL1, IntReALL's
# exclusion, a value of its own when untested) / tp53.
_GENETICS = {
    "none": "no high-risk genetic marker",
    "other": "a high-risk marker other than TP53 (e.g. KMT2A, iAMP21)",
    "bcr": "BCR-ABL1 present",
    "tp53": "TP53 alteration present",
}
_GENETICS_TOGETHER = {
    frozenset({"none", "other"}): "no TP53 alteration",
    frozenset({"none", "other", "bcr"}): "no TP53 alteration",
    frozenset({"other", "tp53"}): "any high-risk marker (TP53 or another)",
    frozenset({"other", "bcr", "tp53"}): "any high-risk marker (TP53 or another)",
    frozenset({"other", "bcr"}): "a high-risk marker other than TP53",
}
# With BCR-ABL1 a value of its own, "other" no longer holds it: the words say so.
_GENETICS_APART = {"other": "a high-risk marker other than TP53 and BCR-ABL1 (e.g. KMT2A, iAMP21)"}
_TOGETHER_APART = {
    frozenset({"none", "other"}): "neither TP53 alteration nor BCR-ABL1",
    frozenset({"other", "tp53"}): "a high-risk marker other than BCR-ABL1 (TP53 included)",
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
    if key == "eot":
        if values["within6"]:
            return "relapse < 6 months after the end of frontline therapy (or on therapy)"
        return "relapse ≥ 6 months after the end of frontline therapy"
    if key == "sites":
        sites = _sites(patch)
        return f"{PATTERN_WORDS[pattern_of(sites)]} relapse ({site_list(sites)})"
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


def _genetics(patch: Patch) -> str:
    values = dict(patch)
    if values.get("bcr_abl1") is MarkerStatus.PRESENT:
        return "bcr"
    if values["tp53"]:
        return "tp53"
    return "other" if values["high_risk_genetics"] else "none"


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
        return _genetics_words(
            [_genetics(p) for p in patches], apart=any(_genetics(p) == "bcr" for p in dim.values)
        )
    return " or ".join(_condition(dim.key, p) for p in patches)


def _genetics_words(values: list[str], *, apart: bool) -> str:
    """Genetics values in words; `apart`: BCR-ABL1 is a value of its own."""
    chosen = frozenset(values)
    together = (_TOGETHER_APART.get(chosen) if apart else None) or _GENETICS_TOGETHER.get(chosen)
    if together is not None:
        return together
    words = {**_GENETICS, **_GENETICS_APART} if apart else _GENETICS
    return " or ".join(words[v] for v in dict.fromkeys(values))


Answer = tuple[str, tuple[str, ...], tuple[str, ...], float | None]  # answer, rules, missing, thr
Combo = tuple[Patch, ...]  # one value of each dimension of a group


def _groups(space: Space, missing: tuple[str, ...], reads: frozenset[str]) -> list[list[Dimension]]:
    """The dimensions one missing input (or inputs known only together) sets, in the space's
    order: the relapse date sets both the time from diagnosis and from the end of therapy, and
    documenting it fixes both at once."""
    groups: dict[tuple[str, ...], list[Dimension]] = {}
    for dim in space.dims:
        if len(dim.values) > 1 and dim.key in reads and set(dim.names) & set(missing):
            groups.setdefault(dim.names, []).append(dim)
    return list(groups.values())


def _combos(inputs: RelapseInputs, dims: list[Dimension]) -> list[Combo]:
    """The values the group can take together: those some date gives, when one missing date
    sets several dimensions (the others known), else every combination."""
    every = list(product(*(d.values for d in dims)))
    keys = [d.key for d in dims]
    if len(dims) < 2:
        return every
    dates = _candidate_dates(inputs, dims[0].names, keys)
    if dates is None:
        return every
    name = dims[0].names[0]
    possible = {tuple(_patch(inputs, name, key, day) for key in keys) for day in dates}
    return [combo for combo in every if combo in possible]


def _candidate_dates(
    inputs: RelapseInputs, names: tuple[str, ...], keys: list[str]
) -> list[date] | None:
    """Dates on each side of every bound the group's dimensions turn on (the answer is the same
    between two bounds)."""
    dx, rel, eot, born = (
        inputs.diagnosis_date,
        inputs.relapse_date,
        inputs.end_of_therapy,
        inputs.birth_date,
    )
    if names == ("relapse_date",) and dx is not None and eot is not None and "eot" in keys:
        bounds = [_shift(dx, months=18), _shift(dx, months=36), _shift(eot, months=6)]
        floor, ceiling = dx, None
    elif names == ("diagnosis_date",) and rel is not None and born is not None:
        bounds = [_shift(rel, months=-18), _shift(rel, months=-36), _shift(born, months=180)]
        floor, ceiling = born, rel
    else:
        return None
    days = {floor} | {d for b in bounds if b for k in (-1, 0, 1) if (d := _shift(b, days=k))}
    return [d for d in days if d >= floor and (ceiling is None or d <= ceiling)]


def _shift(day: date, *, months: int = 0, days: int = 0) -> date | None:
    """`day` moved, or None past the calendar's ends (dates near 9999-12-31 are valid FHIR)."""
    try:
        return day + relativedelta(months=months, days=days)
    except (ValueError, OverflowError):
        return None


def _patch(inputs: RelapseInputs, name: str, key: str, day: date) -> Patch:
    """The value of dimension `key` when the missing date `name` is `day`, as the space reads it
    (the other dates of the group are known: `_candidate_dates` checked them)."""
    if name == "relapse_date":
        filled = replace(inputs, relapse_date=day)
    else:
        filled = replace(inputs, diagnosis_date=day)
    (value,) = build_space(filled, age_at_diagnosis(filled)).dim(key).values
    return value


def _restrict(space: Space, dims: list[Dimension], combo: Combo) -> Space:
    for dim, patch in zip(dims, combo, strict=True):
        space = space.restrict(dim.key, (patch,))
    return space


def _phrase(dims: list[Dimension], chosen: list[Combo], every: list[Combo]) -> str:
    """Combinations of the group's values in words; "" when they are all there are."""
    if set(chosen) == set(every):
        return ""
    if len(dims) == 1:
        return _words(dims[0], [c[0] for c in chosen])
    # The first dimension's values grouped by the values of the others they come with.
    by_rest: dict[frozenset[Combo], list[Patch]] = {}
    for first in dict.fromkeys(c[0] for c in chosen):
        by_rest.setdefault(frozenset(c[1:] for c in chosen if c[0] == first), []).append(first)
    all_firsts = {c[0] for c in every}
    pieces = []
    for rest, firsts in by_rest.items():
        possible = list(dict.fromkeys(c[1:] for c in every if c[0] in firsts))
        head = "" if set(firsts) == all_firsts else _words(dims[0], firsts)
        tail = _phrase(dims[1:], [r for r in possible if r in rest], possible)
        pieces.append(" and ".join(x for x in (head, tail) if x))
    return "; or ".join(pieces)


def _changes_for(
    space: Space,
    inputs: RelapseInputs,
    *,
    target: str,
    missing: tuple[str, ...],
    reads: frozenset[str],
    answer: Callable[[Space], Answer],
) -> list[Change]:
    """Per missing input: one change per answer its values give; the values that leave the
    answer undecided are one change naming what would still be missing."""
    changes: list[Change] = []
    for group in _groups(space, missing, reads):
        names = tuple(n for n in group[0].names if n in missing)
        dims = [_with_bcr_abl1(inputs, d) for d in group]
        every = _combos(inputs, dims)
        decided: dict[Answer, list[Combo]] = {}
        undecided: list[tuple[Answer, Combo]] = []
        for combo in every:
            found = answer(_restrict(space, dims, combo))
            if found[0] == INDETERMINATE:
                undecided.append((found, combo))
            else:
                decided.setdefault(found, []).append(combo)
        for (value, rules, still, threshold), combos in decided.items():
            condition = _phrase(dims, combos, every)
            changes.append(Change(target, names, condition, value, rules, still, threshold))
        if undecided:
            needed = {n for a, _ in undecided for n in a[2]}
            whatever = _QUANTITY[dims[0].key] if len(dims) == 1 else input_names(dims[0].names)
            changes.append(
                Change(
                    target,
                    names,
                    _phrase(dims, [c for _, c in undecided], every) or f"whatever the {whatever}",
                    INDETERMINATE,
                    tuple(dict.fromkeys(r for a, _ in undecided for r in a[1])),
                    tuple(n for n in INPUT_NAMES if n in needed),
                )
            )
    return changes


def _with_bcr_abl1(inputs: RelapseInputs, dim: Dimension) -> Dimension:
    """Untested BCR-ABL1 counts as absent (§3: an exclusion counts only when documented), so no
    world holds it; documenting it is a value of the genetics of its own (IntReALL: PATH-0)."""
    if dim.key != "genetics" or inputs.genetics.status("BCR-ABL1") is not MarkerStatus.NOT_TESTED:
        return dim
    if not any(dict(p)["high_risk_genetics"] for p in dim.values):
        return dim
    bcr: Patch = (("high_risk_genetics", True), ("tp53", False), ("bcr_abl1", MarkerStatus.PRESENT))
    return replace(dim, values=(*dim.values, bcr))


def what_would_change(
    inputs: RelapseInputs,
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
        changes += _changes_for(
            space,
            inputs,
            target=PLAN,
            missing=pathway.decided_by,
            reads=DIMENSIONS,
            answer=plan_answer,
        )
    for key in scheme_keys():
        result = schemes[key]
        if result.group != INDETERMINATE:
            continue

        def scheme_answer(narrowed: Space, key: str = key) -> Answer:
            r = assess_scheme(key, narrowed)
            return (r.group, (r.rule,), r.missing, None)

        changes += _changes_for(
            space,
            inputs,
            target=key,
            missing=result.missing,
            reads=get_scheme(key).reads,
            answer=scheme_answer,
        )
    return tuple(changes)
