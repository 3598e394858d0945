"""Therapy: end of frontline therapy, on therapy at relapse, prior HSCT (fhir-contract.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mappings.codesets import CodeSets
from mappings.fhirjson import as_dict, as_list, as_str, codings, full_date, ref


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


def is_frontline_plan(resource: Mapping[str, Any], codes: CodeSets) -> bool:
    texts = [as_str(resource.get("title")) or ""]
    for raw in as_list(resource.get("category")):
        category = as_dict(raw)
        texts.append(as_str(category.get("text")) or "")
        texts.extend(as_str(c.get("display")) or "" for c in codings(category))
    joined = " ".join(texts).lower()
    return any(word in joined for word in codes.frontline_words)


@dataclass(frozen=True, slots=True)
class TherapyFacts:
    end_of_therapy: date | None
    on_therapy: bool | None
    sources: dict[str, tuple[str, ...]]


def frontline_therapy(
    markers: Iterable[Mapping[str, Any]],
    care_plans: Iterable[Mapping[str, Any]],
    relapse: date | None,
    codes: CodeSets,
) -> TherapyFacts:
    """End of frontline therapy (first found: coded event, then completed CarePlan); on therapy."""
    sources: dict[str, tuple[str, ...]] = {}
    dated = sorted(
        ((d, ref(r)) for r in markers if (d := performed_date(r)) is not None),
        key=lambda x: x[0],
    )
    end: date | None = None
    if dated:
        end = dated[0][0]
        sources["end_of_therapy"] = (dated[0][1],)

    plans = [p for p in care_plans if is_frontline_plan(p, codes)]
    # A plan started after the relapse is relapse therapy, not frontline.
    if relapse is not None:
        plans = [
            p
            for p in plans
            if (s := full_date(as_dict(p.get("period")).get("start"))) is None or s < relapse
        ]
    if end is None:
        completed = sorted(
            (
                (d, ref(p))
                for p in plans
                if p.get("status") == "completed"
                and (d := full_date(as_dict(p.get("period")).get("end"))) is not None
            ),
            key=lambda x: x[0],
        )
        if completed:
            end, source = completed[-1]
            sources["end_of_therapy"] = (source,)

    on: bool | None = None
    if relapse is not None:
        active = [ref(p) for p in plans if p.get("status") == "active"]
        if active:
            on = True
            sources["on_therapy"] = tuple(active)
        elif end is not None:
            on = end > relapse
            sources["on_therapy"] = sources["end_of_therapy"]
    return TherapyFacts(end, on, sources)


def hsct_events(
    procedures: Iterable[Mapping[str, Any]],
    conditions: Iterable[tuple[str, date | None]],
) -> list[tuple[date | None, str]]:
    """(date, ref) of every documented HSCT: Procedures given, plus Z94.8x Conditions."""
    events = [(performed_date(p), ref(p)) for p in procedures]
    events.extend((d, r) for r, d in conditions)
    return events
