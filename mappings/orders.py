"""FHIR → the inputs of the CALL-0603 idarubicin checks (fhir-contract.md, "Reinduction and its
response" and "Drugs and body size"; risk-schemes.md §9).

Values are never logged; what could not be read is named by `Type/id` only. A value that could
not be read is never skipped silently (an older one would then pass for the latest): it is kept
in `OrderRecord.unread_values` with its kind and date, and each check it could change says it
cannot be made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mappings import observations as obs
from mappings.codesets import CodeSets
from mappings.extract import belongs_elsewhere, extract
from mappings.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    full_date,
    ref,
    reference_target,
    validation_problem,
    with_time_zones,
)
from mappings.reinduction import (
    GIVEN_STATUSES,
    NOT_DONE,
    ORDERED_STATUSES,
    VALUE_SETS,
    Medications,
    administered_date,
    medication_date,
)
from mappings.standing import instant, standing
from mappings.therapy import performed_date
from service.domain.inputs import RelapseInputs
from service.domain.orders import (
    Dose,
    DraftOrder,
    FailedRead,
    OrderRecord,
    PriorDose,
    Unread,
    Value,
)
from service.domain.thresholds import Comparator

# Count units → factor to /µL (fhir-contract.md, blood counts).
COUNT_UNITS = {
    "10*3/uL": Decimal(1000),
    "10*9/L": Decimal(1000),
    "/uL": Decimal(1),
    "/mm3": Decimal(1),
}
_SIZE_UNITS = {"body_surface_area": "m2", "body_height": "cm", "body_weight": "kg"}
_UNITS = {**_SIZE_UNITS, "circulating_blasts": "%"}  # circulating blasts: LOINC 709-6 (contract)
_DOSE_UNITS = ("mg", "mg/m2")


@dataclass(frozen=True, slots=True)
class _Blasts:
    """A marrow blast result with what orders the results of one sample (mappings.mrd)."""

    value: Value
    status: str
    issued: datetime | None


@dataclass(frozen=True, slots=True)
class IdarubicinDraft:
    resource: Mapping[str, Any]
    order: DraftOrder | None  # None: the draft could not be read
    problem: str | None = None


def planned_date(order: Mapping[str, Any]) -> tuple[date | None, str]:
    """timing.event[0], else timing.repeat.boundsPeriod.start, else authoredOn (contract)."""
    for instruction in as_list(order.get("dosageInstruction")):
        timing = as_dict(as_dict(instruction).get("timing"))
        events = as_list(timing.get("event"))
        found = full_date(events[0]) if events else None
        if found is not None:
            return found, "timing.event"
        bounds = as_dict(as_dict(timing.get("repeat")).get("boundsPeriod"))
        found = full_date(bounds.get("start"))
        if found is not None:
            return found, "timing.repeat.boundsPeriod.start"
    authored = full_date(order.get("authoredOn"))
    return (authored, "authoredOn") if authored is not None else (None, "")


def _doses(order: Mapping[str, Any]) -> tuple[Dose, ...]:
    found: list[Dose] = []
    for instruction in as_list(order.get("dosageInstruction")):
        for rate in as_list(as_dict(instruction).get("doseAndRate")):
            quantity = as_dict(rate).get("doseQuantity")
            if not isinstance(quantity, Mapping):
                continue
            unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
            found.append(Dose(_decimal(quantity.get("value")), unit))
    return tuple(found)


# No dose, count or body size has 20 digits before the point; larger numbers would overflow the
# 28-digit decimal arithmetic of the checks (InvalidOperation), so they are unreadable.
MAX_DIGITS = 20


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(str(value))  # str: 0.499 stays 0.499, not its binary neighbour
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number.adjusted() >= MAX_DIGITS:
        return None
    return number


def read_drafts(
    drafts: Sequence[Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    codes: CodeSets,
    *,
    patient_id: str,
    request_date: date,
) -> list[IdarubicinDraft]:
    """The patient's idarubicin draft MedicationRequests, each read (or why it cannot be).

    A draft for another patient is not this patient's order and is not read.
    """
    meds = Medications([*resources, *drafts])
    found: list[IdarubicinDraft] = []
    for draft in drafts:
        if draft.get("resourceType") != "MedicationRequest":
            continue
        if belongs_elsewhere(draft, patient_id):
            continue
        if codes.match("idarubicin", meds.codings(draft)) is None:
            continue
        zoned, _ = with_time_zones(draft)
        problem = validation_problem(zoned)
        if problem is not None:
            found.append(IdarubicinDraft(draft, None, f"{ref(draft)} could not be read: {problem}"))
            continue
        planned, source = planned_date(draft)
        order = DraftOrder(
            ref=ref(draft),
            planned=planned or request_date,
            planned_from=source or "the date of the request",
            doses=_doses(draft),
        )
        found.append(IdarubicinDraft(draft, order))
    return found


def read_record(
    resources: Sequence[Mapping[str, Any]],
    codes: CodeSets,
    *,
    patient_id: str,
    draft_refs: frozenset[str] = frozenset(),
    failures: Iterable[str] = (),
    inputs: RelapseInputs | None = None,
    failed_reads: Iterable[FailedRead] = (),
) -> OrderRecord:
    """The record as the checks read it; `failures` names data that could not be fetched.
    `inputs`: the record already extracted (the patient-view assessment), not read twice;
    `failed_reads`: what the response to reinduction reads and could not be fetched."""
    inputs = extract(resources, codes) if inputs is None else inputs
    unread = [f"could not read {f}" for f in failures]
    mine = [
        r
        for r in resources
        if isinstance(r, Mapping)
        and not belongs_elsewhere(r, patient_id)
        and ref(r) not in draft_refs
    ]
    mine_refs = {ref(r) for r in mine}
    meds = Medications(mine)
    values: dict[str, list[Value]] = {name: [] for name in VALUE_SETS}
    blasts: list[_Blasts] = []
    unread_values: list[Unread] = []
    doses: list[PriorDose] = []
    for r in mine:
        kind = r.get("resourceType")
        if kind not in (
            "Observation",
            "Procedure",
            "MedicationRequest",
            "MedicationAdministration",
        ):
            continue
        status = as_str(r.get("status"))
        if status in (obs.SKIPPED_STATUSES if kind == "Observation" else NOT_DONE):
            continue
        relevant = _relevant(r, codes, meds)
        if not relevant:
            continue
        zoned, _ = with_time_zones(r)
        problem = validation_problem(zoned)
        if problem is not None:
            when = _written_date(r)
            unread_values += [Unread(n, when, ref(r), f"{ref(r)} ({problem})") for n in relevant]
            continue
        if kind == "Observation":
            _observation(r, relevant, values, blasts, unread_values)
        elif kind in ("MedicationRequest", "MedicationAdministration"):
            _medication(r, relevant, doses, unread_values)
        elif performed_date(r) is None:
            # An undated coded reinduction start could be day 0, as an undated Observation could.
            unread_values.append(Unread("reinduction_start", None, ref(r), f"{ref(r)} (no date)"))
    return OrderRecord(
        relapsed=inputs.relapsed,
        relapse_count=inputs.relapse_count,
        relapse_date=inputs.relapse_date,
        relapse_sources=tuple(inputs.sources.get("relapse_date", ())),
        # Day 0 as the extract read it (one rule), from this patient's resources only: the
        # extract filters by the record's one Patient (none may be sent); drafts date nothing.
        day0_candidates=tuple(c for c in inputs.day0_candidates if c.source in mine_refs),
        bsa=tuple(values["body_surface_area"]),
        heights=tuple(values["body_height"]),
        weights=tuple(values["body_weight"]),
        anc=tuple(values["anc"]),
        platelets=tuple(values["platelets"]),
        circulating_blasts=tuple(values["circulating_blasts"]),
        marrow_blasts=_one_per_day(blasts, unread_values),
        idarubicin_doses=tuple(doses),
        unread=tuple(unread),
        unread_values=(*unread_values, *inputs.unread_disease),
        unread_conditions=tuple(u for u in inputs.unread if u.startswith("Condition/")),
        relapse_sites=inputs.sites,
        relapse_other_sites=inputs.other_sites,
        relapse_conditions=tuple(inputs.sources.get("relapsed", ())),
        site_disease=inputs.site_disease,
        failed_reads=tuple(failed_reads),
    )


def _relevant(r: Mapping[str, Any], codes: CodeSets, meds: Medications) -> set[str]:
    if r.get("resourceType") in ("MedicationRequest", "MedicationAdministration"):
        cs = meds.codings(r)
        return {n for n in ("idarubicin", "reinduction_drug") if codes.match(n, cs)}
    cs = list(codings(r.get("code")))
    names = (
        ("reinduction_start",)
        if r.get("resourceType") == "Procedure"
        else (*VALUE_SETS, "marrow_blasts", "reinduction_start")
    )
    return {n for n in names if codes.match(n, cs)}


def _observation(
    r: Mapping[str, Any],
    relevant: set[str],
    values: dict[str, list[Value]],
    blasts: list[_Blasts],
    unread: list[Unread],
) -> None:
    when = obs.observation_date(r)
    if when is None:
        unread += [Unread(n, None, ref(r), f"{ref(r)} (no date)") for n in relevant]
        return
    if "marrow_blasts" in relevant:
        reading = obs.read_blasts(r)
        if reading.percent is None:
            problem = reading.problem or f"{ref(r)} (marrow blasts)"
            unread.append(Unread("marrow_blasts", when, ref(r), problem))
        else:
            status = as_str(r.get("status")) or "unknown"
            value = Value(
                Decimal(str(reading.percent)), when, ref(r), preliminary=status == "preliminary"
            )
            blasts.append(_Blasts(value, status, instant(r.get("issued"))))
        return
    name = next((n for n in VALUE_SETS if n in relevant), None)
    if name is None:
        return
    quantity = as_dict(r.get("valueQuantity"))
    number = _decimal(quantity.get("value"))
    unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
    factor = (
        COUNT_UNITS.get(unit or "")
        if name in ("anc", "platelets")
        else (Decimal(1) if unit == _UNITS[name] else None)
    )
    out_of_range = name == "circulating_blasts" and number is not None and number > 100
    comparator = _comparator(quantity.get("comparator"), count=name in ("anc", "platelets"))
    if number is None or factor is None or out_of_range or comparator is None:
        unread.append(Unread(name, when, ref(r), f"{ref(r)} (value or unit not understood)"))
        return
    preliminary = r.get("status") == "preliminary"
    values[name].append(Value(number * factor, when, ref(r), comparator, preliminary))


def _comparator(written: Any, *, count: bool) -> Comparator | None:
    """A count's comparator as written (`<100`/µL is common in neutropenia: the checks place it
    against their limits); any other value must be exact. None: not readable."""
    if written is None:
        return Comparator.EQ
    return obs.COMPARATORS.get(written) if count and isinstance(written, str) else None


def _one_per_day(blasts: list[_Blasts], unread: list[Unread]) -> tuple[Value, ...]:
    """One marrow result per sample day, as for MRD (mappings.mrd): amended/corrected over final
    over preliminary, then the latest issued; equals that disagree are unread, never a pick."""
    days: dict[date, list[_Blasts]] = {}
    for b in sorted(blasts, key=lambda b: b.value.source):
        days.setdefault(b.value.date, []).append(b)
    found: list[Value] = []
    for day, group in sorted(days.items()):
        _, top = standing(group)
        if len({b.value.value for b in top}) > 1:
            names = ", ".join(b.value.source for b in top)
            problem = f"{names} (marrow blasts that disagree with nothing to order them)"
            unread.append(Unread("marrow_blasts", day, names, problem))
        else:
            found.append(top[0].value)
    return tuple(found)


def _medication(
    r: Mapping[str, Any], relevant: set[str], doses: list[PriorDose], unread: list[Unread]
) -> None:
    if "idarubicin" not in relevant:
        return
    given = r.get("resourceType") == "MedicationAdministration"
    if given:
        dose_date = medication_date(r)
        stands = r.get("status") in GIVEN_STATUSES
    else:
        stands = r.get("status") in ORDERED_STATUSES
        dose_date = planned_date(r)[0] if stands else None
    if dose_date is not None:
        request = reference_target(r.get("request")) if given else None
        doses.append(PriorDose(dose_date, ref(r), given, request))
    elif stands:
        # A dose given or ordered but undated could be one of this reinduction.
        unread.append(Unread("idarubicin", None, ref(r), f"{ref(r)} (no date)"))


def _written_date(r: Mapping[str, Any]) -> date | None:
    """The date a resource that could not be validated is written for, read from its JSON."""
    kind = r.get("resourceType")
    if kind == "Observation":
        return obs.observation_date(r)
    if kind == "Procedure":
        return performed_date(r)
    if kind == "MedicationRequest":
        return planned_date(r)[0]
    return administered_date(r)
