"""A measured value against a threshold (risk-schemes.md §3): its comparator as written decides.

An exact value v is below t when v < t; `<v` when v ≤ t; `<=v` when v < t; `>v` or `>=v` is at or
above t when v ≥ t; anything else is unknown. MRD is read against the schemes' thresholds so, and
a blood count against the CALL-0603 limits.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TypeVar


class Comparator(StrEnum):
    EQ = "="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


N = TypeVar("N", float, Decimal)


def below(value: N, comparator: Comparator, threshold: N) -> bool | None:
    """True below `threshold`, False at or above it, None when the comparator leaves it open."""
    if comparator is Comparator.EQ:
        return value < threshold
    if comparator is Comparator.LT:
        return True if value <= threshold else None
    if comparator is Comparator.LE:
        return True if value < threshold else None
    return False if value >= threshold else None
