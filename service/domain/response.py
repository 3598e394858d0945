"""Response to reinduction (risk-schemes.md §7, `RESP-*`). Pure: the record's dated values in.

Day 0 is read as for the order-sign checks (`orders.reinduction_day0`); the marrows of days 7, 14
and 28 are the blast percentages dated in the §7 windows, the nearest the nominal day (a tie: the
later); CR on day 28 is `RESP-CR2` on the day-28 marrow with counts and circulating blasts within 3
days of it (extramedullary disease is not read: not documented = none). A value
that could not be read where it would be the one read (as near the nominal day or the day-28
marrow as the one read, or undated) leaves that reading unknown and is named, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import product

from service.domain.orders import Day0, OrderRecord, Unread, Value, reinduction_day0
from service.domain.sites import blast_grade

RER, SER, FAIL, PENDING, INDETERMINATE = "RER", "SER", "FAIL", "pending", "indeterminate"
# Nominal day → the days since day 0 a marrow counts for it (§7; CALL-0603 examined day 29).
WINDOWS: dict[int, tuple[int, int]] = {7: (5, 9), 14: (12, 17), 28: (25, 35)}
CR2_ANC = Decimal(750)  # /µL
CR2_PLATELETS = Decimal(75_000)  # /µL
COUNTS_WITHIN_DAYS = 3
GRADES = ("M1", "M2", "M3")
NOT_DOCUMENTED_NOTE = (
    "Circulating blasts and extramedullary disease are not documented: read as none (§7)."
)
EMD_NOT_DOCUMENTED_NOTE = "Extramedullary disease is not documented: read as none (§7)."
BLASTS_NOTE = (
    "Circulating blasts within 3 days of the day-28 marrow: no CR on day 28 (RESP-CR2), but with "
    "an M1 marrow not read as a failure (§7: that needs an M2/M3 marrow or extramedullary "
    "disease documented)."
)
OVERLAP_NOTE = (
    "M1 on day 7, then M2/M3 on day 14: both definitions fit; read as SER, the slower (§7)."
)


@dataclass(frozen=True, slots=True)
class Marrow:
    grade: str  # M1 / M2 / M3
    value: Value  # percent blasts, its date and source


@dataclass(frozen=True, slots=True)
class Response:
    day0: Day0
    marrows: dict[int, Marrow]  # nominal day (7, 14, 28) → the marrow read for it
    cls: str  # RER / SER / FAIL / pending / indeterminate
    cr2: bool | None  # RESP-CR2 on day 28; None: not shown (yet)
    rule: str
    missing: tuple[str, ...] = ()  # what would decide a pending or indeterminate response
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "day0": self.day0.date.isoformat(),
            "day0_source": self.day0.source,
            "marrows": {str(day): m.grade for day, m in sorted(self.marrows.items())},
            "marrow_sources": {str(day): m.value.source for day, m in sorted(self.marrows.items())},
            "class": self.cls,
            "cr2": self.cr2,
            "rule": self.rule,
            "missing": list(self.missing),
            "notes": list(self.notes),
        }


def _key(d: date, target: date) -> tuple[int, int]:
    """Nearest `target` first; a tie: the later."""
    return abs((d - target).days), -d.toordinal()


def _nearest(
    values: tuple[Value, ...], unread: tuple[Unread, ...], target: date, within: int
) -> tuple[Value | None, tuple[str, ...]]:
    """The value dated nearest `target` within `within` days (a tie: the later), and the
    unreadable ones that could be it instead (undated, or at least as near)."""
    near = [v for v in values if abs((v.date - target).days) <= within]
    best = min(near, key=lambda v: _key(v.date, target), default=None)
    return best, _hiding(unread, target, best, lambda d: abs((d - target).days) <= within)


def _hiding(
    unread: tuple[Unread, ...], target: date, best: Value | None, counts: Callable[[date], bool]
) -> tuple[str, ...]:
    return tuple(
        u.source
        for u in unread
        if u.date is None
        or (counts(u.date) and (best is None or _key(u.date, target) <= _key(best.date, target)))
    )


def _marrow(
    record: OrderRecord, day0: date, nominal: int, as_of: date
) -> tuple[Marrow | None, tuple[str, ...]]:
    """The marrow read for `nominal`, and the unreadable marrows that could be it instead."""
    low, high = WINDOWS[nominal]
    target = day0 + timedelta(days=nominal)

    def counts(d: date) -> bool:
        return low <= (d - day0).days <= high and d <= as_of

    found = [v for v in record.marrow_blasts if counts(v.date)]
    best = min(found, key=lambda v: _key(v.date, target), default=None)
    hiding = _hiding(_kind(record, "marrow_blasts"), target, best, counts)
    if best is None or hiding:
        return None, hiding
    grade = blast_grade(float(best.value))
    return (None if grade is None else Marrow(grade, best)), ()


def _unread_words(what: str, sources: tuple[str, ...]) -> str:
    return f"{what} ({', '.join(dict.fromkeys(sources))} could not be read)"


def _kind(record: OrderRecord, kind: str) -> tuple[Unread, ...]:
    return tuple(u for u in record.unread_values if u.kind == kind)


def early_response(day7: str, day14: str) -> str:
    """RER or SER for fully known day-7 and day-14 grades, with CR on day 28 (§7)."""
    if day7 == "M3" or day14 in ("M2", "M3"):
        return SER
    return RER  # day 14 M1 after day 7 M1 or M2


def read_response(record: OrderRecord, as_of: date) -> Response | None:
    """The response to reinduction of a first relapse, or None when no reinduction is read."""
    if not record.relapsed or record.relapse_count != 1:
        return None
    day0 = reinduction_day0(record)
    if day0 is None:
        return None
    marrows: dict[int, Marrow] = {}
    hidden: dict[int, tuple[str, ...]] = {}  # nominal day → unreadable marrows that could be it
    for day in WINDOWS:
        marrow, hiding = _marrow(record, day0.date, day, as_of)
        if hiding:
            hidden[day] = hiding
        elif marrow is not None:
            marrows[day] = marrow
    day28 = marrows.get(28)
    if 28 in hidden:
        missing: tuple[str, ...] = (_unread_words("day-28 marrow", hidden[28]),)
        return Response(day0, marrows, INDETERMINATE, None, "RESP-CR2", missing)
    if day28 is None:
        late = (as_of - day0.date).days > WINDOWS[28][1]
        return Response(
            day0,
            marrows,
            INDETERMINATE if late else PENDING,
            None,
            "RESP-CR2",
            ("day-28 marrow",),
        )
    if day28.grade != "M1":
        return Response(day0, marrows, FAIL, False, "RESP-FAIL")
    at = day28.value.date
    anc, anc_hiding = _nearest(record.anc, _kind(record, "anc"), at, COUNTS_WITHIN_DAYS)
    platelets, platelets_hiding = _nearest(
        record.platelets, _kind(record, "platelets"), at, COUNTS_WITHIN_DAYS
    )
    blasts, blasts_hiding = _nearest(
        record.circulating_blasts, _kind(record, "circulating_blasts"), at, COUNTS_WITHIN_DAYS
    )
    if blasts is not None and not blasts_hiding and blasts.value > 0:
        # RESP-CR2 needs no circulating blasts; the extramedullary disease that would make this
        # a failure is not read (fhir-contract.md), so it is named for review.
        missing = ("extramedullary disease at day 28 (not read: review the record)",)
        return Response(day0, marrows, INDETERMINATE, False, "RESP-CR2", missing, (BLASTS_NOTE,))
    if anc_hiding or platelets_hiding or blasts_hiding:
        missing = tuple(
            _unread_words(f"{what} within 3 days of the day-28 marrow", hiding)
            for what, hiding in (
                ("blood counts", anc_hiding + platelets_hiding),
                ("circulating blasts", blasts_hiding),
            )
            if hiding
        )
        return Response(day0, marrows, INDETERMINATE, None, "RESP-CR2", missing)
    if anc is None or platelets is None or anc.value < CR2_ANC or platelets.value < CR2_PLATELETS:
        # Count recovery not shown: never a failure on an M1 marrow (§7).
        return Response(
            day0,
            marrows,
            INDETERMINATE,
            None,
            "RESP-CR2",
            ("blood counts within 3 days of the day-28 marrow (count recovery not shown)",),
        )
    known: dict[int, str] = {day: marrows[day].grade for day in (7, 14) if day in marrows}
    open_days = [day for day in (7, 14) if day not in known]
    outcomes: dict[tuple[str, ...], str] = {}
    for grades in product(GRADES, repeat=len(open_days)):
        g: dict[int, str] = {**known, **dict(zip(open_days, grades, strict=True))}
        outcomes[grades] = early_response(g[7], g[14])
    notes = [NOT_DOCUMENTED_NOTE if blasts is None else EMD_NOT_DOCUMENTED_NOTE]
    if set(outcomes.values()) == {RER} or set(outcomes.values()) == {SER}:
        cls = next(iter(outcomes.values()))
        if known.get(7) == "M1" and known.get(14) in ("M2", "M3"):
            notes.insert(0, OVERLAP_NOTE)
        return Response(day0, marrows, cls, True, f"RESP-{cls}", (), tuple(notes))
    # Only a missing marrow that changes the answer on its own is named.
    deciding = tuple(
        _unread_words(f"day-{day} marrow", hidden[day]) if day in hidden else f"day-{day} marrow"
        for i, day in enumerate(open_days)
        if any(
            outcomes[a] != outcomes[b]
            for a in outcomes
            for b in outcomes
            if a[:i] + a[i + 1 :] == b[:i] + b[i + 1 :]
        )
    )
    return Response(day0, marrows, INDETERMINATE, True, "RESP-RER/RESP-SER", deciding, tuple(notes))
