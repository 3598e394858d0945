"""The five relapse risk schemes, each a function of fully known `Facts`."""

from __future__ import annotations

from collections.abc import Callable

from service.domain.assessment import INDETERMINATE, SchemeResult
from service.domain.facts import Facts, Space, decide
from service.domain.schemes import allr3, bfm, cog, inpog, intreall
from service.domain.schemes.cell import Cell

READS: dict[str, frozenset[str]] = {
    "bfm": bfm.READS,
    "allr3": allr3.READS,
    "cog": cog.READS,
    "intreall": intreall.READS,
    "inpog": inpog.READS,
}
CLASSIFIERS: dict[str, Callable[[Facts], Cell]] = {
    "bfm": bfm.classify,
    "allr3": allr3.classify,
    "cog": cog.classify,
    "intreall": intreall.classify,
    "inpog": inpog.classify,
}

TITLES: dict[str, str] = {
    "bfm": "BFM",
    "allr3": "ALLR3",
    "cog": "COG",
    "intreall": "IntReALL",
    "inpog": "InPOG-ALL-R1",
}
_MAX_REASONS = 3


def assess_scheme(name: str, space: Space) -> SchemeResult:
    """The scheme's group when every world agrees, else `indeterminate` naming the inputs."""
    decision = decide(space, CLASSIFIERS[name], READS[name], key=lambda cell: cell.group)
    rule = "/".join(sorted({cell.rule for cell in decision.outcomes}))
    groups = [str(k) for k in decision.keys]
    if not decision.decided:
        return SchemeResult(
            INDETERMINATE,
            rule,
            decision.missing,
            f"{' or '.join(sorted(groups))} depending on {', '.join(decision.missing)}.",
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
