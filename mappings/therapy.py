"""Therapy: end of frontline therapy, on therapy at relapse, prior HSCT (fhir-contract.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mappings.codesets import CodeSets
from mappings.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    full_date,
    has_words,
    ref,
)


def performed_date(resource: Mapping[str, Any]) -> date | None:
    """When a Procedure or Observation happened: the dateTime, else the period's end or start."""
    for key in ("performedDateTime", "effectiveDateTime"):
        found = full_date(resource.get(key))
        if found is not None:
            return found
    for key in ("performedPeriod", "effectivePeriod"):
        period = as_dict(resource.get(key))
        found = full_date(period.get("end")) or full_date(period.get("start"))
        if found is not None:
            return found
    return None


# CarePlan statuses that never stood (FHIR request-status): not read at all.
_UNREAD_PLAN_STATUSES = frozenset({"draft", "entered-in-error"})
WHOLE, MAINTENANCE, PHASE = "whole", "maintenance", "phase"


def _plan_text(resource: Mapping[str, Any]) -> str:
    texts = [as_str(resource.get("title")) or ""]
    for raw in as_list(resource.get("category")):
        category = as_dict(raw)
        texts.append(as_str(category.get("text")) or "")
        texts.extend(as_str(c.get("display")) or "" for c in codings(category))
    return " ".join(texts).lower()


def frontline_kind(resource: Mapping[str, Any], codes: CodeSets) -> str | None:
    """WHOLE (a frontline plan), MAINTENANCE, PHASE (induction ... delayed intensification), or
    None when the plan is not frontline therapy (a relapse plan, or named as neither)."""
    text = _plan_text(resource)
    if any(has_words(text, w) for w in codes.relapse_plan_words):
        return None
    # A phase named anywhere (title or category; "interim maintenance" included) makes the plan a
    # phase: its end is never read as the end of frontline therapy.
    if any(has_words(text, w) for w in codes.frontline_phase_words):
        return PHASE
    if any(has_words(text, w) for w in codes.maintenance_words):
        return MAINTENANCE
    if any(has_words(text, w) for w in codes.frontline_words):
        return WHOLE
    return None


@dataclass(frozen=True, slots=True)
class TherapyFacts:
    end_of_therapy: date | None
    on_therapy: bool | None
    sources: dict[str, tuple[str, ...]]
    warnings: tuple[str, ...] = ()


def _period(plan: Mapping[str, Any]) -> tuple[date | None, date | None]:
    period = as_dict(plan.get("period"))
    return full_date(period.get("start")), full_date(period.get("end"))


def _covers(plan: Mapping[str, Any], kind: str, relapse: date) -> bool:
    """Whether the plan's period holds the relapse date. An open period holds it only while the
    plan is active, and only for maintenance or the whole plan: a phase of weeks (induction ...)
    left open in the EHR says nothing of the years after."""
    start, end = _period(plan)
    if start is not None and start > relapse:
        return False
    if end is None:
        return plan.get("status") == "active" and kind != PHASE
    return relapse <= end


def frontline_therapy(
    markers: Iterable[Mapping[str, Any]],
    care_plans: Iterable[Mapping[str, Any]],
    relapse: date | None,
    codes: CodeSets,
) -> TherapyFacts:
    """End of frontline therapy (first found: coded event, then the end of a completed maintenance
    phase or whole frontline plan); on therapy when a frontline plan's period holds the relapse."""
    sources: dict[str, tuple[str, ...]] = {}
    warnings: list[str] = []
    dated = sorted(
        ((d, ref(r)) for r in markers if (d := performed_date(r)) is not None),
        key=lambda x: x[0],
    )
    end: date | None = None
    if dated:
        end = dated[0][0]
        sources["end_of_therapy"] = (dated[0][1],)

    plans = [
        (p, kind)
        for p in care_plans
        if as_str(p.get("status")) not in _UNREAD_PLAN_STATUSES
        and (kind := frontline_kind(p, codes)) is not None
    ]
    # A plan started on or after the relapse is relapse therapy, not frontline.
    if relapse is not None:
        plans = [(p, k) for p, k in plans if (s := _period(p)[0]) is None or s < relapse]
    if end is None:
        # Phases (induction ... interim maintenance) end within frontline therapy, never it.
        completed = sorted(
            (d, ref(p))
            for p, kind in plans
            if kind in (WHOLE, MAINTENANCE)
            and p.get("status") == "completed"
            and (d := _period(p)[1]) is not None
        )
        if completed:
            end, source = completed[-1]
            sources["end_of_therapy"] = (source,)

    on: bool | None = None
    if relapse is not None:
        # Whatever the status now (a plan revoked because of the relapse was running at it).
        covering = [ref(p) for p, kind in plans if _covers(p, kind, relapse)]
        stale = [
            ref(p)
            for p, _ in plans
            if p.get("status") == "active" and (e := _period(p)[1]) is not None and e < relapse
        ]
        if stale:
            warnings.append(
                f"{', '.join(stale)}: active but its period ended before the relapse; "
                "not read as on therapy"
            )
        if covering:
            on = True
            sources["on_therapy"] = tuple(covering)
        elif end is not None:
            on = end > relapse
            sources["on_therapy"] = sources["end_of_therapy"]
    return TherapyFacts(end, on, sources, tuple(warnings))


def reinduction_starts(
    care_plans: Iterable[Mapping[str, Any]], codes: CodeSets
) -> list[tuple[date, str]]:
    """(period.start, ref) of every CarePlan that names reinduction, by date: day 0 candidates."""
    return sorted(
        (start, ref(p))
        for p in care_plans
        if as_str(p.get("status")) not in _UNREAD_PLAN_STATUSES
        and any(has_words(_plan_text(p), w) for w in codes.reinduction_words)
        and (start := _period(p)[0]) is not None
    )


def hsct_events(
    procedures: Iterable[Mapping[str, Any]],
    conditions: Iterable[tuple[str, date | None]],
) -> tuple[list[tuple[date | None, str]], list[str]]:
    """(date, ref) of every documented HSCT: `completed` Procedures and Z94.8x Conditions; and
    the HSCT Procedures not completed (planned, in progress, stopped: never a prior HSCT)."""
    procedures = list(procedures)
    events = [(performed_date(p), ref(p)) for p in procedures if p.get("status") == "completed"]
    events.extend((d, r) for r, d in conditions)
    return events, [ref(p) for p in procedures if p.get("status") != "completed"]
