"""The relapse risk schemes: the one list every scheme table is derived from.

Adding a scheme is one module declaring a `Scheme` and one line in `SCHEMES`; the order of the
list is the order of the tables and of the PATH-0 hand-over (risk-schemes.md §4).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

from service.domain.assessment import INDETERMINATE, SchemeResult
from service.domain.facts import Facts, Space, decide
from service.domain.schemes import allr3, bfm, cog, inpog, intreall
from service.domain.schemes.cell import Cell
from service.domain.schemes.scheme import Scheme, check
from service.domain.words import groups_words, input_names

SCHEMES: tuple[Scheme, ...] = (
    bfm.SCHEME,
    allr3.SCHEME,
    cog.SCHEME,
    intreall.SCHEME,
    inpog.SCHEME,
)
check(SCHEMES)
_MAX_REASONS = 3


def scheme_keys() -> tuple[str, ...]:
    """The scheme keys in table order (read at call time, so a registered scheme is seen)."""
    return tuple(s.key for s in SCHEMES)


def get_scheme(key: str) -> Scheme:
    for s in SCHEMES:
        if s.key == key:
            return s
    raise KeyError(f"unknown scheme {key!r}; use one of {scheme_keys()}")


@cache  # one per classify function: a handful
def _remembered(classify: Callable[[Facts], Cell]) -> Callable[[Facts], Cell]:
    # "What would change" assesses each scheme over many narrowed spaces: the same worlds again.
    return lru_cache(maxsize=8192)(classify)


def assess_scheme(name: str, space: Space) -> SchemeResult:
    """The scheme's group when every world agrees, else `indeterminate` naming the inputs."""
    s = get_scheme(name)
    decision = decide(space, _remembered(s.classify), s.reads, key=lambda cell: cell.group)
    rule = "/".join(sorted({cell.rule for cell in decision.outcomes}))
    groups = [str(k) for k in decision.keys]
    if not decision.decided:
        return SchemeResult(
            INDETERMINATE,
            rule,
            decision.missing,
            f"{groups_words(sorted(groups))} depending on {input_names(decision.missing)}.",
        )
    reasons = list(dict.fromkeys(cell.reason for cell in decision.outcomes))
    if len(reasons) == 1:
        reason = reasons[0]
    else:
        shown = "; ".join(reasons[:_MAX_REASONS]) + ("; …" if len(reasons) > _MAX_REASONS else "")
        reason = f"{groups[0]} whatever the missing inputs are ({shown})."
    first = decision.outcomes[0]
    notes = tuple(n for n in first.notes if all(n in c.notes for c in decision.outcomes))
    return SchemeResult(groups[0], rule, (), reason, notes)
