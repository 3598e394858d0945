"""Response to reinduction (risk-schemes.md §7, `RESP-*`). Pure: the record's dated values in.

Day 0 is read as for the order-sign checks (`orders.reinduction_day0`); the marrows of days 7, 14
and 28 are the blast percentages dated in the §7 windows, the nearest the nominal day (a tie: the
later); CR on day 28 is `RESP-CR2` on the day-28 marrow with counts and circulating blasts within 3
days of it, and no extramedullary disease: a Condition dated in the day-28 window that names a
relapse site as involved is disease still documented (a failure); one naming only another site
means no CR2 but is not read as a failure (review). Observations are not read for it: the
contract names no code for "site still involved". A value that could not be read where it would
be the one read (as near the nominal day or the day-28 marrow as the one read, or undated) leaves
that reading unknown and is named, never dropped.
A part of the record that could not be read at all (a failed prefetch key) and could hold the
marrows and counts, or a day 0 ranked before the one found, makes the response `indeterminate`
naming it: never `pending`, nor a response read from the rest (§7: name what is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import product

from service.domain.inputs import Site
from service.domain.orders import (
    DAY0_ORDER,
    Day0,
    OrderRecord,
    SiteDisease,
    Unread,
    Value,
    nearest_first,
    reinduction_day0,
)
from service.domain.sites import blast_grade, site_list

RER, SER, FAIL, PENDING, INDETERMINATE = "RER", "SER", "FAIL", "pending", "indeterminate"
# Nominal day → the days since day 0 a marrow counts for it (§7; CALL-0603 examined day 29).
WINDOWS: dict[int, tuple[int, int]] = {7: (5, 9), 14: (12, 17), 28: (25, 35)}
CR2_ANC = Decimal(750)  # /µL
CR2_PLATELETS = Decimal(75_000)  # /µL
COUNTS_WITHIN_DAYS = 3
GRADES = ("M1", "M2", "M3")
UNREAD_RULE = "RESP-RER/RESP-SER/RESP-FAIL"  # none of them can be told: the record is not whole
_EMD_NONE = (
    "no Condition dated in the day-28 window names a relapse site as involved (Observations are "
    "not read for it: the FHIR contract names no code for a site still involved)"
)
NOT_DOCUMENTED_NOTE = (
    f"Circulating blasts are not documented and {_EMD_NONE}: both read as none (§7)."
)
EMD_NOT_DOCUMENTED_NOTE = f"Extramedullary disease: {_EMD_NONE}; read as none (§7)."
BLASTS_NOTE = (
    "Circulating blasts within 3 days of the day-28 marrow: no CR on day 28 (RESP-CR2), but with "
    "an M1 marrow not read as a failure (§7: that needs an M2/M3 marrow or extramedullary "
    "disease documented)."
)
BLASTS_MISSING = (
    "a finding that decides between CR and failure (circulating blasts with an M1 day-28 marrow "
    "and no extramedullary disease documented: review the record)"
)
STILL_WITHOUT_MARROW_NOTE = (
    "No day-28 marrow read: with extramedullary disease still documented at a relapse site "
    "every marrow grade gives induction failure, so the response is given (§7)."
)
OVERLAP_NOTE = (
    "M1 on day 7, then M2/M3 on day 14: both definitions fit; read as SER, the slower (§7)."
)


@dataclass(frozen=True, slots=True)
class Marrow:
    grade: str  # M1 / M2 / M3
    value: Value  # percent blasts, its date and source


@dataclass(frozen=True, slots=True)
class Counts:
    """The blood values read for RESP-CR2: nearest the day-28 marrow within 3 days (None: not
    documented there). ANC and platelets per µL, circulating blasts in percent."""

    anc: Value | None = None
    platelets: Value | None = None
    circulating_blasts: Value | None = None

    def to_json(self) -> dict[str, object]:
        return {
            name: None
            if v is None
            else {
                "value": _number(v.value),
                "comparator": v.comparator.value,
                "unit": unit,
                "date": v.date.isoformat(),
                "source": v.source,
            }
            for name, v, unit in (
                ("anc", self.anc, "/uL"),
                ("platelets", self.platelets, "/uL"),
                ("circulating_blasts", self.circulating_blasts, "%"),
            )
        }


@dataclass(frozen=True, slots=True)
class Disease:
    """A Condition dated in the day-28 window naming extramedullary sites as involved; `at_relapse`:
    the relapse sites among them."""

    found: SiteDisease
    at_relapse: frozenset[Site]

    def to_json(self) -> dict[str, object]:
        return {
            "sites": sorted(self.found.sites),
            "relapse_sites": sorted(self.at_relapse),
            "date": self.found.date.isoformat(),
            "source": self.found.source,
            "confirmed": self.found.confirmed,
        }


@dataclass(frozen=True, slots=True)
class Response:
    day0: Day0
    marrows: dict[int, Marrow]  # nominal day (7, 14, 28) → the marrow read for it
    cls: str  # RER / SER / FAIL / pending / indeterminate
    cr2: bool | None  # RESP-CR2 on day 28; None: not shown (yet)
    rule: str
    missing: tuple[str, ...] = ()  # what would decide a pending or indeterminate response
    notes: tuple[str, ...] = ()
    counts: Counts | None = None  # read once a day-28 marrow is read
    disease: tuple[Disease, ...] = ()  # extramedullary disease documented at day 28
    # Undetermined, and what is unknown could still be a failure (RESP-FAIL → PATH-1): the plan
    # is worked out over both (§4 plan resolution; refractory is a §1 input).
    could_fail: bool = False
    unassigned: str | None = None  # why no marrow is assigned to a day (none read: None)

    @property
    def preliminary(self) -> frozenset[str]:
        """The preliminary results read: marrows and the counts behind RESP-CR2 (`Type/id`)."""
        counts = self.counts or Counts()
        read = [m.value for m in self.marrows.values()]
        read += [v for v in (counts.anc, counts.platelets, counts.circulating_blasts) if v]
        return frozenset(v.source for v in read if v.preliminary)

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
            "counts": None if self.counts is None else self.counts.to_json(),
            "extramedullary": [d.to_json() for d in self.disease],
        }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _nearest(
    values: tuple[Value, ...], unread: tuple[Unread, ...], target: date, as_of: date
) -> tuple[Value | None, tuple[str, ...]]:
    """The value dated nearest `target` within `COUNTS_WITHIN_DAYS` and by as-of (a tie: the
    later), and the unreadable ones that could be it instead (undated, or at least as near)."""

    def counts(d: date) -> bool:
        return abs((d - target).days) <= COUNTS_WITHIN_DAYS and d <= as_of

    best = min(
        (v for v in values if counts(v.date)),
        key=lambda v: nearest_first(v.date, target),
        default=None,
    )
    return best, _hiding(unread, target, best, counts)


def _hiding(
    unread: tuple[Unread, ...], target: date, best: Value | None, counts: Callable[[date], bool]
) -> tuple[str, ...]:
    return tuple(
        u.source
        for u in unread
        if u.date is None
        or (
            counts(u.date)
            and (best is None or nearest_first(u.date, target) <= nearest_first(best.date, target))
        )
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
    best = min(found, key=lambda v: nearest_first(v.date, target), default=None)
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


def _day28_disease(record: OrderRecord, day0: date, as_of: date) -> tuple[Disease, ...]:
    """The Conditions dated in the day-28 window (by as-of) that name extramedullary sites as
    involved; never a Condition of the relapse itself (it is dated before day 0 anyway)."""
    low, high = WINDOWS[28]
    relapse_sites = record.relapse_sites or frozenset()
    return tuple(
        Disease(d, frozenset(s for s in d.sites & relapse_sites if _same_site(s, d, record)))
        for d in sorted(record.site_disease, key=lambda d: (d.date, d.source))
        if low <= (d.date - day0).days <= high
        and d.date <= as_of
        and d.source not in record.relapse_conditions
    )


def _same_site(site: Site, d: SiteDisease, record: OrderRecord) -> bool:
    """CNS and testis are one site each; "other" is the relapse's only when it is written the
    same (a coding, else its words): skin after a mediastinal relapse is not."""
    return site is not Site.OTHER or bool(d.other & record.relapse_other_sites)


def _disease_hiding(record: OrderRecord, day0: date, as_of: date) -> tuple[str, ...]:
    """Unreadable Conditions naming an extramedullary site, undated or dated in the day-28
    window: any could be disease still documented."""
    low, high = WINDOWS[28]
    return tuple(
        u.source
        for u in _kind(record, "site_disease")
        if u.source not in record.relapse_conditions
        and (u.date is None or (low <= (u.date - day0).days <= high and u.date <= as_of))
    )


def _disease_note(d: Disease) -> str:
    where = f"{site_list(d.found.sites)} ({d.found.source}, {d.found.date.isoformat()})"
    if not d.found.confirmed:
        return f"Extramedullary disease at day 28 not confirmed (verification status): {where}."
    if d.at_relapse:
        return (
            f"Extramedullary disease still documented at day 28: {where}; a relapse site: no CR "
            "on day 28 (RESP-CR2), induction failure (RESP-FAIL, §7)."
        )
    return (
        f"Extramedullary disease documented at day 28 at a site not recorded among the relapse's "
        f"sites: {where}: no CR on day 28 (RESP-CR2); on its own not read as a failure, which "
        "needs a relapse site still involved (§7): review the record."
    )


def _disease_missing(disease: tuple[Disease, ...]) -> tuple[str, ...]:
    """What would decide when the extramedullary disease documented does not, each kind named
    (most severe first): a site not among the relapse's, an unconfirmed finding."""
    elsewhere = [d.found.source for d in disease if d.found.confirmed and not d.at_relapse]
    unconfirmed = [d.found.source for d in disease if not d.found.confirmed]
    return tuple(
        f"{what} ({', '.join(sources)})"
        for what, sources in (
            (
                "review of extramedullary disease at day 28 at a site not recorded at the relapse",
                elsewhere,
            ),
            ("confirmation of extramedullary disease at day 28", unconfirmed),
        )
        if sources
    )


def unread_day0(record: OrderRecord, day0: Day0 | None) -> tuple[str, ...]:
    """The failed reads that could hold a day 0 that would win over `day0` (a kind ranked before
    it, or the same kind dated earlier), or any day 0 when none was found."""
    rank = len(DAY0_ORDER) if day0 is None else DAY0_ORDER.index(day0.kind)
    return tuple(
        f.what for f in record.failed_reads if any(DAY0_ORDER.index(k) <= rank for k in f.day0)
    )


def unread_reinduction(record: OrderRecord) -> str | None:
    """Why no response is read although one could be: no day 0 was found, but what could hold
    one could not be read (the assessment names it; without a day 0 there is no response)."""
    if not record.relapsed or record.relapse_count != 1 or record.relapse_date is None:
        return None
    if reinduction_day0(record) is not None:
        return None
    unread = unread_day0(record, None)
    if not unread:
        return None
    return (
        "Response to reinduction (§7) not read: no reinduction day 0 was found, and "
        f"{'; '.join(unread)} could not be read"
    )


def _could_fail_unread(record: OrderRecord, as_of: date) -> bool:
    """With day 0 uncertain or the marrows and counts not all read: whether a failure is still
    possible. It is once a day 0 on or after the relapse could put a day-28 window at or before
    as-of: any such window holds a marrow or disease the record may not show, or none (after
    day 35 undetermined, and it could be M2/M3)."""
    if record.relapse_date is None:
        return False
    return (as_of - record.relapse_date).days >= WINDOWS[28][0]


def read_response(record: OrderRecord, as_of: date) -> Response | None:
    """The response to reinduction of a first relapse, or None when no reinduction is read."""
    if not record.relapsed or record.relapse_count != 1:
        return None
    day0 = reinduction_day0(record)
    if day0 is None or day0.date > as_of:
        return None  # §7: read once reinduction has started, not for a planned one
    unread = tuple(
        f"reinduction day 0: {what} could not be read" for what in unread_day0(record, day0)
    ) + tuple(
        f"marrows and blood counts: {f.what} could not be read"
        for f in record.failed_reads
        if f.values
    )
    if unread:
        # Marrows dated from a day 0 that may not be the one, or read from part of the record,
        # would show a response the record may not support: none are shown.
        day0_unsure = unread[0].startswith("reinduction day 0")
        why = "day 0 uncertain" if day0_unsure else "part of the record unread"
        return Response(
            day0,
            {},
            INDETERMINATE,
            None,
            UNREAD_RULE,
            unread,
            could_fail=_could_fail_unread(record, as_of),
            unassigned=why,
        )
    marrows: dict[int, Marrow] = {}
    hidden: dict[int, tuple[str, ...]] = {}  # nominal day → unreadable marrows that could be it
    for day in WINDOWS:
        marrow, hiding = _marrow(record, day0.date, day, as_of)
        if hiding:
            hidden[day] = hiding
        elif marrow is not None:
            marrows[day] = marrow
    disease = _day28_disease(record, day0.date, as_of)
    disease_notes = tuple(_disease_note(d) for d in disease)
    # Documented disease rules CR2 out; at a relapse site it is a failure whatever the day-28
    # marrow shows (§7: a response the known findings decide is given), else the response
    # waits for its day-28 marrow.
    no_cr2 = False if any(d.found.confirmed for d in disease) else None
    still = any(d.found.confirmed and d.at_relapse for d in disease)
    day28 = marrows.get(28)
    if still and day28 is None:
        decided = (*disease_notes, STILL_WITHOUT_MARROW_NOTE)
        return Response(day0, marrows, FAIL, False, "RESP-FAIL", (), decided, disease=disease)
    if 28 in hidden:
        missing: tuple[str, ...] = (_unread_words("day-28 marrow", hidden[28]),)
        return Response(
            day0,
            marrows,
            INDETERMINATE,
            no_cr2,
            "RESP-CR2",
            missing,
            disease_notes,
            disease=disease,
            could_fail=True,
        )
    if day28 is None:
        # After day 35 the missing day-28 marrow is undetermined, and it could be M2/M3.
        late = (as_of - day0.date).days > WINDOWS[28][1]
        return Response(
            day0,
            marrows,
            INDETERMINATE if late else PENDING,
            no_cr2,
            "RESP-CR2",
            ("day-28 marrow",),
            disease_notes,
            disease=disease,
            could_fail=late,
        )
    at = day28.value.date
    anc, anc_hiding = _nearest(record.anc, _kind(record, "anc"), at, as_of)
    platelets, platelets_hiding = _nearest(record.platelets, _kind(record, "platelets"), at, as_of)
    blasts, blasts_hiding = _nearest(
        record.circulating_blasts, _kind(record, "circulating_blasts"), at, as_of
    )
    counts = Counts(anc, platelets, blasts)

    def response(
        cls: str,
        cr2: bool | None,
        rule: str,
        missing: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
        *,
        could_fail: bool = False,
    ) -> Response:
        return Response(
            day0,
            marrows,
            cls,
            cr2,
            rule,
            missing,
            disease_notes + notes,
            counts,
            disease,
            could_fail,
        )

    if day28.grade != "M1" or still:
        # §7: FAIL needs an M2/M3 day-28 marrow or extramedullary disease still documented.
        return response(FAIL, False, "RESP-FAIL")
    unread_disease = _disease_hiding(record, day0.date, as_of)
    disease_unread = (
        (_unread_words("extramedullary disease at day 28", unread_disease),)
        if unread_disease
        else ()
    )
    if disease_missing := _disease_missing(disease):
        # An unconfirmed finding at a relapse site, once confirmed, is a failure; so could an
        # unreadable Condition be.
        unsure = any(not d.found.confirmed and d.at_relapse for d in disease) or bool(
            disease_unread
        )
        return response(
            INDETERMINATE, no_cr2, "RESP-CR2", disease_missing + disease_unread, could_fail=unsure
        )
    if disease_unread:
        # An unreadable Condition could be disease still documented (a failure).
        seen = blasts is not None and not blasts_hiding and blasts.value > 0
        return response(
            INDETERMINATE, False if seen else None, "RESP-CR2", disease_unread, could_fail=True
        )
    if blasts is not None and not blasts_hiding and blasts.value > 0:
        # RESP-CR2 needs no circulating blasts; with an M1 marrow and no extramedullary disease
        # documented §7 does not read it as a failure either.
        return response(INDETERMINATE, False, "RESP-CR2", (BLASTS_MISSING,), (BLASTS_NOTE,))
    if anc_hiding or platelets_hiding or blasts_hiding:
        missing = tuple(
            _unread_words(f"{what} within 3 days of the day-28 marrow", hiding)
            for what, hiding in (
                ("blood counts", anc_hiding + platelets_hiding),
                ("circulating blasts", blasts_hiding),
            )
            if hiding
        )
        return response(INDETERMINATE, None, "RESP-CR2", missing)
    recovered = (
        anc is not None
        and platelets is not None
        and anc.below(CR2_ANC) is False
        and platelets.below(CR2_PLATELETS) is False
    )
    if not recovered:
        # Count recovery not shown (a count below its limit, missing, or written with a
        # comparator that leaves it open): never a failure on an M1 marrow (§7).
        return response(
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
        return response(cls, True, f"RESP-{cls}", (), tuple(notes))
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
    return response(INDETERMINATE, True, "RESP-RER/RESP-SER", deciding, tuple(notes))
