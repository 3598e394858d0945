"""CALL-0603 idarubicin checks at order-sign (risk-schemes.md §9, `ORD-IDA-*`). Pure: dates in.

The mapping reads the record into `OrderRecord` and each draft order into `DraftOrder`; this
module only applies §9 and says what it found, with the values and the resources they came
from. Where an input the rule needs is missing it says the check cannot be made and names the
input: it never guesses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from service.domain.thresholds import Comparator, below

if TYPE_CHECKING:  # inputs imports this module (Day0Candidate)
    from service.domain.inputs import Site

DOSE = "ORD-IDA-DOSE"
COUNTS = "ORD-IDA-COUNTS"
M3 = "ORD-IDA-M3"
NOLABS = "ORD-IDA-NOLABS"
SCHEDULE = "ORD-IDA-SCHEDULE"
ALL_RULES = (DOSE, COUNTS, M3, NOLABS, SCHEDULE)

MAX_DOSE_PER_M2 = Decimal(10)  # mg/m², CALL-0603 (12.5 mg/m² was too toxic in the pilot)
SCHEDULE_DAYS = (0, 7, 14, 21)
COUNT_DAYS = (14, 21)
DAY_TOLERANCE = 1  # "±1" of §9
COUNTS_WITHIN_DAYS = 2
BODY_SIZE_WITHIN_DAYS = 30
ANC_LIMIT = Decimal(500)  # /µL
PLATELET_LIMIT = Decimal(50_000)  # /µL
DOSES_IN_SCHEDULE = 4
DRUG_DAY0_WINDOW_DAYS = 21  # a reinduction drug dates day 0 when given within 21 days of relapse
DAY14_WINDOW = (12, 17)  # §7: a marrow counts for day 14 when dated day 12-17
M3_ABOVE_PERCENT = 25.0

Indicator = Literal["info", "warning"]
Action = Literal["update", "delete"]
# careplan: a reinduction CarePlan's start; event: a coded reinduction start; drug: a reinduction
# drug given (MedicationAdministration); drug-order: else ordered (MedicationRequest.authoredOn).
Day0Kind = Literal["careplan", "event", "drug", "drug-order"]
DAY0_ORDER: tuple[Day0Kind, ...] = ("careplan", "event", "drug", "drug-order")


# After a value read from a preliminary result (fhir-contract.md: it counts, marked so); the one
# wording, here because every reader of a `Value` is above this module.
PRELIMINARY_WORDS = "(preliminary result)"


@dataclass(frozen=True, slots=True)
class Value:
    """A measured value in the unit the rules use, with its date and `Type/id`; a count may be
    written with a comparator (`<100`/µL), which is kept."""

    value: Decimal
    date: date
    source: str
    comparator: Comparator = Comparator.EQ
    preliminary: bool = False  # from a preliminary result: it counts, marked so (contract)

    @property
    def prefix(self) -> str:
        """The comparator as written before the number ("" for an exact value)."""
        return "" if self.comparator is Comparator.EQ else self.comparator.value

    def below(self, limit: Decimal) -> bool | None:
        """True below `limit`, False at or above it, None when the comparator leaves it open."""
        return below(self.value, self.comparator, limit)

    def marked(self, text: str) -> str:
        """`text` (this value in words), marked when it comes from a preliminary result."""
        return f"{text} {PRELIMINARY_WORDS}" if self.preliminary else text


@dataclass(frozen=True, slots=True)
class Unread:
    """A value that could not be read, kept with its kind and date (None: no date) so that the
    response (§7) and each order check (§9) can tell whether it falls where it would decide."""

    # The response's "marrow_blasts", "anc", "platelets", "circulating_blasts", "site_disease";
    # the checks' also "body_surface_area", "body_height", "body_weight", "idarubicin",
    # "reinduction_drug", "reinduction_start" (the code set names).
    kind: str
    date: date | None
    source: str  # `Type/id` (several, comma-separated, for results that disagree)
    problem: str | None = None  # what was wrong, for people (default: the source)

    @property
    def words(self) -> str:
        return self.problem or self.source


@dataclass(frozen=True, slots=True)
class SiteDisease:
    """A Condition of the leukaemia that names extramedullary sites as involved, dated as the
    relapse mapping dates Conditions (fhir-contract.md, "Extramedullary disease at day 28")."""

    sites: frozenset[Site]  # cns / testis / other: never marrow (the blasts judge the marrow)
    date: date
    source: str  # `Type/id`
    confirmed: bool = True  # False: verification status unconfirmed or provisional
    other: frozenset[str] = frozenset()  # its "other" sites as written (RelapseInputs.other_sites)


@dataclass(frozen=True, slots=True)
class PriorDose:
    """An idarubicin dose of the record: given (an administration, naming the order it fulfils
    when it does) or ordered (a signed request, by its planned date)."""

    date: date
    source: str
    given: bool
    request: str | None = None  # the `MedicationRequest/id` an administration fulfils


@dataclass(frozen=True, slots=True)
class Day0Candidate:
    kind: Day0Kind
    date: date
    source: str


@dataclass(frozen=True, slots=True)
class FailedRead:
    """A part of the record that could not be read (a prefetch key), by what of the response to
    reinduction (§7) it could hold: day-0 candidates of these kinds, the marrows and counts."""

    what: str  # for people, e.g. "CarePlans (frontline therapy dates, reinduction day 0)"
    day0: frozenset[Day0Kind] = frozenset()
    values: bool = False  # marrow blasts, blood counts, circulating blasts


@dataclass(frozen=True, slots=True)
class Dose:
    """One `doseQuantity` of the draft order; `unit` is "mg", "mg/m2" or what was written."""

    value: Decimal | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class DraftOrder:
    ref: str  # "MedicationRequest/id"
    planned: date
    planned_from: str  # which field gave the planned date (fhir-contract.md)
    doses: tuple[Dose, ...]


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What the checks read of the patient's record, as mapped (every value keeps its source)."""

    relapsed: bool
    relapse_count: int
    relapse_date: date | None
    relapse_sources: tuple[str, ...] = ()
    day0_candidates: tuple[Day0Candidate, ...] = ()
    bsa: tuple[Value, ...] = ()  # m²
    heights: tuple[Value, ...] = ()  # cm
    weights: tuple[Value, ...] = ()  # kg
    anc: tuple[Value, ...] = ()  # /µL
    platelets: tuple[Value, ...] = ()  # /µL
    marrow_blasts: tuple[Value, ...] = ()  # percent
    circulating_blasts: tuple[Value, ...] = ()  # percent of leukocytes (0: none)
    idarubicin_doses: tuple[PriorDose, ...] = ()  # given or ordered (not drafts), any date
    # Parts of the record that could not be fetched at all (prefetch keys): no check is made.
    unread: tuple[str, ...] = ()
    # Values that could not be read: each stops only what it could change (its kind and date).
    unread_values: tuple[Unread, ...] = ()
    # Conditions that could not be read: they could make (or unmake) a first relapse.
    unread_conditions: tuple[str, ...] = ()
    # The first relapse's sites (None: none documented) and Conditions, and the Conditions that
    # name extramedullary disease (day 28, risk-schemes §7).
    relapse_sites: frozenset[Site] | None = None
    relapse_other_sites: frozenset[str] = frozenset()  # RelapseInputs.other_sites
    relapse_conditions: tuple[str, ...] = ()
    site_disease: tuple[SiteDisease, ...] = ()
    failed_reads: tuple[FailedRead, ...] = ()  # what the response reads and could not be read


@dataclass(frozen=True, slots=True)
class Fact:
    """A value a finding rests on: label, value as text, and where and when it came from."""

    label: str
    value: str
    source: str | None = None
    date: date | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    indicator: Indicator
    summary: str  # our own words, no FHIR text
    reason: str
    facts: tuple[Fact, ...] = ()
    action: Action | None = None
    # For ORD-IDA-DOSE's update: the doses the order should carry instead (same units).
    new_doses: tuple[Dose, ...] = ()
    bsa_used: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Day0:
    date: date
    source: str
    kind: Day0Kind  # what dated it (its rank in DAY0_ORDER)


def reinduction_day0(record: OrderRecord) -> Day0 | None:
    """Day 0 of the record's (first) relapse: `day0_after` of its candidates."""
    if record.relapse_date is None:
        return None
    return day0_after(record.day0_candidates, record.relapse_date)


def day0_after(candidates: Iterable[Day0Candidate], relapse: date) -> Day0 | None:
    """Day 0 (fhir-contract.md, "Reinduction"): first found of a reinduction CarePlan, a coded
    reinduction start, the first reinduction drug within 21 days of the relapse; each on or
    after the relapse date (§7: reinduction of this relapse). The one rule: the mapping's
    relapse episodes and refractoriness read day 0 with it too."""
    candidates = tuple(candidates)
    for kind in DAY0_ORDER:
        found = sorted(
            (c.date, c.source)
            for c in candidates
            if c.kind == kind
            and c.date >= relapse
            and (kind in ("careplan", "event") or (c.date - relapse).days <= DRUG_DAY0_WINDOW_DAYS)
        )
        if found:
            return Day0(found[0][0], found[0][1], kind)
    return None


def check_order(order: DraftOrder, record: OrderRecord) -> tuple[Finding, ...]:
    """Every `ORD-IDA-*` finding for one idarubicin draft order; () when none applies."""
    if record.relapse_count < 2 and record.unread_conditions:
        # Whether this is a first relapse rests on Conditions that could not be read.
        return (_cannot("a Condition could not be read", record.unread_conditions),)
    if not record.relapsed or record.relapse_count != 1:
        return ()  # §9: only reinduction of a first relapse
    if record.unread:
        return (_cannot("the record could not be read completely", record.unread),)
    if record.relapse_date is None:
        return (_cannot("the relapse is not dated", ("a dated relapse Condition",)),)
    day0 = reinduction_day0(record)
    if hiding := _day0_hiding(record, day0):
        return (_cannot("what could date reinduction day 0 could not be read", hiding),)
    if day0 is None:
        return (
            _cannot(
                "reinduction day 0 is not documented",
                (
                    "a reinduction CarePlan with period.start, a reinduction-start event, or a "
                    "reinduction drug given after the relapse",
                ),
            ),
        )
    day = (order.planned - day0.date).days
    context = (
        Fact("Reinduction day 0", day0.date.isoformat(), day0.source, day0.date),
        Fact(
            "Order day",
            f"day {day} (planned {order.planned.isoformat()}, from {order.planned_from})",
            order.ref,
            order.planned,
        ),
    )
    findings = [_dose(order, record, context)]
    findings.append(_counts(order, record, day, day0, context))
    findings.append(_schedule(order, record, day, day0, context))
    return tuple(f for f in findings if f is not None)


def unreadable_order(record: OrderRecord, problem: str) -> tuple[Finding, ...]:
    """An idarubicin draft that could not be read: the checks cannot be made (if they apply)."""
    if not record.relapsed or record.relapse_count != 1:
        return ()
    return (_cannot("the draft order could not be read", (problem,)),)


def _cannot(
    why: str,
    missing: tuple[str, ...],
    rules: tuple[str, ...] = ALL_RULES,
    *,
    what: str = "checks",
    facts: tuple[Fact, ...] = (),
) -> Finding:
    return Finding(
        rule=", ".join(rules),
        indicator="info",
        summary=f"CALL-0603 idarubicin {what} could not be made",
        reason=f"The {what} could not be made: {why}.",
        facts=(*facts, *(Fact("Missing", m) for m in missing)),
    )


def _unread(
    record: OrderRecord, kinds: tuple[str, ...], could_be: Callable[[date], bool]
) -> tuple[str, ...]:
    """The values of `kinds` that could not be read and could be one a check reads: undated, or
    dated where `could_be` says."""
    return tuple(
        u.words
        for u in record.unread_values
        if u.kind in kinds and (u.date is None or could_be(u.date))
    )


def _day0_hiding(record: OrderRecord, day0: Day0 | None) -> tuple[str, ...]:
    """What could not be read and could date a day 0 that wins over the one found (§7, the
    contract's order: a coded start, then a drug, read as if given), or any day 0 when none was
    found."""
    relapse = record.relapse_date
    if relapse is None:
        return ()
    found_rank = len(DAY0_ORDER) if day0 is None else DAY0_ORDER.index(day0.kind)
    hiding: list[str] = []
    for kind, as_day0 in (("reinduction_start", "event"), ("reinduction_drug", "drug")):
        rank = DAY0_ORDER.index(as_day0)
        if rank > found_rank:
            continue

        def could_be(d: date, rank: int = rank, drug: bool = as_day0 == "drug") -> bool:
            in_window = d >= relapse and (not drug or (d - relapse).days <= DRUG_DAY0_WINDOW_DAYS)
            return in_window and (day0 is None or rank < found_rank or d < day0.date)

        hiding += _unread(record, (kind,), could_be)
    return tuple(dict.fromkeys(hiding))


# --- ORD-IDA-DOSE ---------------------------------------------------------------------------


def _dose(order: DraftOrder, record: OrderRecord, context: tuple[Fact, ...]) -> Finding | None:
    readable = [d for d in order.doses if d.value is not None and d.unit in ("mg", "mg/m2")]
    if not order.doses or len(readable) != len(order.doses):
        return Finding(
            rule=DOSE,
            indicator="info",
            summary=f"Idarubicin dose check could not be made: dose not in mg or mg/m² ({DOSE})",
            reason="The order's dose (doseQuantity) is missing or not in mg or mg/m2 (UCUM).",
            facts=context,
        )
    bsa: tuple[Decimal, tuple[Fact, ...]] | None = None
    if any(d.unit == "mg" for d in readable):
        if hiding := _size_hiding(record, order.planned):
            why = "a body size that could not be read could be the one the dose per m² needs"
            return _cannot(why, hiding, (DOSE,), what=f"dose check ({DOSE})")
        bsa = body_surface_area(record, order.planned)
        if bsa is None:
            return Finding(
                rule=DOSE,
                indicator="info",
                summary=f"Idarubicin dose check could not be made: no body size ({DOSE})",
                reason=(
                    "The dose is in mg and there is no body surface area Observation, nor a "
                    f"height and a weight within {BODY_SIZE_WITHIN_DAYS} days of the order: "
                    "the dose per m² is not known."
                ),
                facts=context,
            )
    per_m2 = [_per_m2(d, bsa[0] if bsa else None) for d in readable]
    worst = max(per_m2)
    if _rounded(worst) <= MAX_DOSE_PER_M2:
        return None
    bsa_value = bsa[0] if bsa else None
    new = tuple(
        Dose(_dose_at_limit(d, bsa_value), d.unit) if _rounded(p) > MAX_DOSE_PER_M2 else d
        for d, p in zip(readable, per_m2, strict=True)
    )
    facts = [
        *context,
        *(Fact("Ordered dose", f"{_num(d.value)} {d.unit}", order.ref) for d in readable),
        *(bsa[1] if bsa else ()),
        Fact("Dose per m²", f"{_num(worst, 2)} mg/m²"),
    ]
    return Finding(
        rule=DOSE,
        indicator="warning",
        summary=f"Idarubicin {_num(worst, 2)} mg/m² is above the CALL-0603 10 mg/m² ({DOSE})",
        reason=(
            "CALL-0603 gives idarubicin 10 mg/m² (12.5 mg/m² weekly was too toxic in the "
            "trial's pilot)."
        ),
        facts=tuple(facts),
        action="update",
        new_doses=new,
        bsa_used=bsa_value,
    )


def body_surface_area(record: OrderRecord, on: date) -> tuple[Decimal, tuple[Fact, ...]] | None:
    """The latest BSA Observation, else Mosteller from the latest height and weight within 30
    days of `on` (inclusive by calendar date); None when neither is documented."""
    if record.bsa:
        latest = _latest(record.bsa)
        return latest.value, (
            Fact(
                "Body surface area",
                latest.marked(f"{_num(latest.value, 2)} m²"),
                latest.source,
                latest.date,
            ),
        )
    heights = [h for h in record.heights if abs((h.date - on).days) <= BODY_SIZE_WITHIN_DAYS]
    weights = [w for w in record.weights if abs((w.date - on).days) <= BODY_SIZE_WITHIN_DAYS]
    if not heights or not weights:
        return None
    height, weight = _latest(heights), _latest(weights)
    bsa = Decimal(math.sqrt(float(height.value * weight.value) / 3600))
    return bsa, (
        Fact("Height", height.marked(f"{_num(height.value)} cm"), height.source, height.date),
        Fact("Weight", weight.marked(f"{_num(weight.value)} kg"), weight.source, weight.date),
        Fact("Body surface area (Mosteller)", f"{_num(bsa, 2)} m²"),
    )


def _size_hiding(record: OrderRecord, on: date) -> tuple[str, ...]:
    """Body sizes that could not be read and could be the ones `body_surface_area` reads: a BSA
    as late as the latest read, else (no BSA at all) a height or weight within 30 days."""
    latest = max((v.date for v in record.bsa), default=None)
    hiding = _unread(record, ("body_surface_area",), lambda d: latest is None or d >= latest)
    if hiding or record.bsa:
        return hiding
    return _unread(
        record,
        ("body_height", "body_weight"),
        lambda d: abs((d - on).days) <= BODY_SIZE_WITHIN_DAYS,
    )


def _per_m2(dose: Dose, bsa: Decimal | None) -> Decimal:
    """Dose per m² of a readable dose (a dose in mg is only read with a BSA)."""
    value = dose.value or Decimal(0)
    return value if dose.unit == "mg/m2" or bsa is None else value / bsa


def _dose_at_limit(dose: Dose, bsa: Decimal | None) -> Decimal:
    if dose.unit == "mg/m2" or bsa is None:
        return MAX_DOSE_PER_M2
    # Rounded down to 0.01 mg: the suggested order must not exceed 10 mg/m² itself.
    return (MAX_DOSE_PER_M2 * bsa).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")


def _rounded(value: Decimal) -> Decimal:
    # 12 mg over 1.2 m² is 10 mg/m², not 10.000000001.
    return value.quantize(Decimal("0.0001"))


# --- ORD-IDA-COUNTS / -M3 / -NOLABS ----------------------------------------------------------


def _counts(
    order: DraftOrder, record: OrderRecord, day: int, day0: Day0, context: tuple[Fact, ...]
) -> Finding | None:
    if not any(abs(day - d) <= DAY_TOLERANCE for d in COUNT_DAYS):
        return None
    anc = _recent(record.anc, order.planned, ANC_LIMIT)
    platelets = _recent(record.platelets, order.planned, PLATELET_LIMIT)
    low: list[str] = []
    open_: list[str] = []  # a count whose comparator leaves it open against the limit
    facts = list(context)
    for name, found, limit, unit in (
        ("ANC", anc, ANC_LIMIT, "/µL"),
        ("Platelets", platelets, PLATELET_LIMIT, "/µL"),
    ):
        if found is None:
            facts.append(Fact(name, f"none within {COUNTS_WITHIN_DAYS} days of the order"))
            continue
        shown = f"{found.prefix}{_num(found.value)}"
        facts.append(Fact(name, found.marked(f"{shown} {unit}"), found.source, found.date))
        below = found.below(limit)
        if below:
            low.append(f"{name} {shown}{unit} < {_num(limit)}")
        elif below is None:
            open_.append(
                f"{name} {shown}{unit} does not show whether it is below {_num(limit)}{unit}"
            )
    hiding = _count_hiding(record, "anc", anc, order.planned) + _count_hiding(
        record, "platelets", platelets, order.planned
    )
    if low:
        # A count that could not be read cannot undo a low one: named, the dose is withheld.
        facts += [Fact("Could not be read", h) for h in hiding]
        return _low_counts(record, day, day0, low, facts)
    if (anc is None or platelets is None) and not hiding:
        # §9: a count is missing and the other does not withhold (an open one neither).
        missing = " and ".join(
            n for n, f in (("ANC", anc), ("platelet count", platelets)) if f is None
        )
        return Finding(
            rule=NOLABS,
            indicator="warning",
            summary=f"Counts needed before idarubicin on day {day}: no {missing} ({NOLABS})",
            reason=(
                f"No {missing} within {COUNTS_WITHIN_DAYS} days of this day-{day} dose: "
                "CALL-0603 withholds it when ANC < 500/µL or platelets < 50,000/µL."
            ),
            facts=tuple(facts),
        )
    if hiding or open_:
        why = "; ".join(
            [
                *(["a count that could not be read could be the latest one"] if hiding else []),
                *open_,
            ]
        )
        return _cannot(
            why, hiding, (COUNTS, NOLABS), what=f"count checks ({COUNTS})", facts=tuple(facts)
        )
    return None


def _low_counts(
    record: OrderRecord, day: int, day0: Day0, low: list[str], facts: list[Fact]
) -> Finding:
    """ORD-IDA-COUNTS, or ORD-IDA-M3 when the day-14 marrow is M3."""
    marrow = day14_marrow(record, day0)
    first, last = DAY14_WINDOW
    nearest = None if marrow is None else _day14_key(marrow.date, day0)

    def could_be(d: date) -> bool:
        in_window = first <= (d - day0.date).days <= last
        return in_window and (nearest is None or _day14_key(d, day0) <= nearest)

    if hiding := _unread(record, ("marrow_blasts",), could_be):
        # An M3 day-14 marrow would give the dose regardless of counts (ORD-IDA-M3).
        why = "a day-14 marrow that could not be read could be M3"
        return _cannot(
            why, hiding, (COUNTS, M3), what=f"count checks ({COUNTS})", facts=tuple(facts)
        )
    if marrow is not None:
        shown = marrow.marked(f"{_num(marrow.value)} %")
        facts.append(Fact("Day-14 marrow blasts", shown, marrow.source, marrow.date))
    else:
        facts.append(Fact("Day-14 marrow", "not documented (day 12-17)"))
    if marrow is not None and float(marrow.value) > M3_ABOVE_PERCENT:
        return Finding(
            rule=M3,
            indicator="info",
            summary=f"Day-14 marrow M3: idarubicin is given regardless of counts ({M3})",
            reason=(
                f"Counts are low ({'; '.join(low)}), but the day-14 marrow is M3 "
                "(> 25 % blasts): CALL-0603 gives idarubicin regardless of counts."
            ),
            facts=tuple(facts),
        )
    return Finding(
        rule=COUNTS,
        indicator="warning",
        summary=f"Withhold idarubicin on day {day}: {'; '.join(low)} ({COUNTS})",
        reason=(
            "CALL-0603 withholds idarubicin on day 14 or 21 when ANC < 500/µL or platelets "
            "< 50,000/µL, unless the day-14 marrow is M3."
        ),
        facts=tuple(facts),
        action="delete",
    )


def _count_hiding(record: OrderRecord, kind: str, read: Value | None, on: date) -> tuple[str, ...]:
    """Counts that could not be read within 2 days of `on`, as late as the one read (a tie could
    be the lower)."""
    return _unread(
        record,
        (kind,),
        lambda d: abs((d - on).days) <= COUNTS_WITHIN_DAYS and (read is None or d >= read.date),
    )


# Several counts on the latest date: the reading that withholds rather than gives (below the
# limit, then open against it, then at or above it), the lowest first.
_WITHHOLDS_FIRST = {True: 0, None: 1, False: 2}


def _recent(values: tuple[Value, ...], on: date, limit: Decimal) -> Value | None:
    """The latest count dated within 2 days of `on` (inclusive by calendar date)."""
    near = [v for v in values if abs((v.date - on).days) <= COUNTS_WITHIN_DAYS]
    if not near:
        return None
    latest = max(v.date for v in near)
    return min(
        (v for v in near if v.date == latest),
        key=lambda v: (_WITHHOLDS_FIRST[v.below(limit)], v.value),
    )


def nearest_first(d: date, target: date) -> tuple[int, int]:
    """Sort key of a marrow or count for a nominal day: nearest `target` first; a tie: the later
    (§7). The order checks and the response to reinduction read with it."""
    return abs((d - target).days), -d.toordinal()


def _day14_key(d: date, day0: Day0) -> tuple[int, int]:
    return nearest_first(d, day0.date + timedelta(days=14))


def day14_marrow(record: OrderRecord, day0: Day0) -> Value | None:
    """The marrow blasts dated day 12-17, nearest day 14 (a tie: the later), §7."""
    low, high = DAY14_WINDOW
    found = [m for m in record.marrow_blasts if low <= (m.date - day0.date).days <= high]
    return min(found, key=lambda m: _day14_key(m.date, day0), default=None)


# --- ORD-IDA-SCHEDULE ------------------------------------------------------------------------


def _schedule(
    order: DraftOrder, record: OrderRecord, day: int, day0: Day0, context: tuple[Fact, ...]
) -> Finding | None:
    prior = _prior_doses(record, day0)
    off_day = not any(abs(day - d) <= DAY_TOLERANCE for d in SCHEDULE_DAYS)
    fifth = len(prior) >= DOSES_IN_SCHEDULE
    if not off_day and not fifth:
        hiding = _unread(record, ("idarubicin",), lambda d: d >= day0.date)
        if len(prior) + len(hiding) >= DOSES_IN_SCHEDULE:
            why = "idarubicin doses that could not be read could make this a fifth dose"
            return _cannot(why, hiding, (SCHEDULE,), what=f"schedule check ({SCHEDULE})")
        return None
    reasons = []
    if off_day:
        reasons.append(f"day {day} is not within ±1 of days 0, 7, 14 or 21")
    if fifth:
        reasons.append(f"{len(prior)} idarubicin doses are already documented since day 0")
    facts = [
        *context,
        *(
            Fact("Prior idarubicin dose", f"day {(d.date - day0.date).days}", d.source, d.date)
            for d in prior
        ),
    ]
    what = f"a dose number {len(prior) + 1}" if fifth else f"day {day}"
    return Finding(
        rule=SCHEDULE,
        indicator="info",
        summary=f"Idarubicin {what}: outside the CALL-0603 schedule ({SCHEDULE})",
        reason=(
            "CALL-0603 gives four idarubicin doses, on days 0, 7, 14 and 21: "
            + "; ".join(reasons)
            + "."
        ),
        facts=tuple(facts),
    )


def _prior_doses(record: OrderRecord, day0: Day0) -> list[PriorDose]:
    """The idarubicin doses since day 0, one per calendar date: every dose given, and every
    signed order no administration fulfils (one naming it, or one given within ±1 day of the
    order's date: the order of a dose given is that dose)."""
    since = [d for d in record.idarubicin_doses if d.date >= day0.date]
    given = [d for d in since if d.given]
    fulfilled = {d.request for d in given if d.request is not None}
    ordered = [
        d
        for d in since
        if not d.given
        and d.source not in fulfilled
        and all(abs((g.date - d.date).days) > DAY_TOLERANCE for g in given)
    ]
    return sorted({d.date: d for d in [*ordered, *given]}.values(), key=lambda d: d.date)


# --- helpers ---------------------------------------------------------------------------------


def _latest(values: list[Value] | tuple[Value, ...]) -> Value:
    # Several on the latest date: the lowest, the reading that withholds rather than gives.
    return max(values, key=lambda v: (v.date, -v.value))


def _num(value: Decimal | None, places: int | None = None) -> str:
    if value is None:
        return "?"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return format(value.normalize(), "f")
