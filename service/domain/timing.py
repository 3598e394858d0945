"""Time to relapse (risk-schemes.md §2.1): calendar months, half-open bounds.

"relapse < diagnosis + 18 months" means the day before the 18-month anniversary counts, the
anniversary itself does not. relativedelta clamps month ends (2020-08-31 + 18 months =
2022-02-28), as calendar months should.
"""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta

VERY_EARLY = "very_early"
EARLY = "early"
LATE = "late"
INDETERMINATE = "indeterminate"


def before_months(event: date, start: date, months: int) -> bool:
    """True when `event` < `start` + `months` calendar months."""
    try:
        anniversary = start + relativedelta(months=months)
    except ValueError:  # after 9999-12-31: every date there is comes before it
        return True
    return event < anniversary


def bfm_timing(
    diagnosis: date | None,
    relapse: date | None,
    end_of_therapy: date | None,
    on_therapy: bool | None,
) -> str:
    """TIME-BFM (BFM, ALLR3, IntReALL, InPOG-ALL-R1)."""
    if relapse is None or diagnosis is None:
        # Without both dates "very early" cannot be excluded.
        return INDETERMINATE
    if before_months(relapse, diagnosis, 18):
        return VERY_EARLY
    if on_therapy is True:
        return EARLY
    if end_of_therapy is None:
        return INDETERMINATE
    return EARLY if before_months(relapse, end_of_therapy, 6) else LATE


def cog_timing(diagnosis: date | None, relapse: date | None, marrow: bool | None) -> str:
    """TIME-COG: 36 months when the marrow is involved, 18 for isolated extramedullary."""
    if relapse is None or diagnosis is None:
        return INDETERMINATE
    early36 = before_months(relapse, diagnosis, 36)
    early18 = before_months(relapse, diagnosis, 18)
    if marrow is None:
        return EARLY if early18 else LATE if not early36 else INDETERMINATE
    early = early36 if marrow else early18
    return EARLY if early else LATE


def call_timing(diagnosis: date | None, relapse: date | None) -> str:
    """TIME-CALL (CALL-0603 prognosis figures only)."""
    if relapse is None or diagnosis is None:
        return INDETERMINATE
    return EARLY if before_months(relapse, diagnosis, 24) else LATE
