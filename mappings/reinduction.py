"""FHIR → what can date reinduction day 0 (fhir-contract.md, "Reinduction and its response").

Read once, by `extract`: the relapse episodes, refractoriness, the order checks and the response
to reinduction all take day 0 from these candidates with one rule (`orders.day0_after`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from mappings import observations as obs
from mappings.codesets import CodeSets
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
from mappings.therapy import performed_date, reinduction_starts
from service.domain.orders import Day0Candidate

# The Observation values the reinduction reader (`mappings.orders`) reads beside the relapse
# inputs, by code set: body size (the dose checks) and counts and circulating blasts (the
# response to reinduction).
VALUE_SETS = (
    "body_surface_area",
    "body_height",
    "body_weight",
    "anc",
    "platelets",
    "circulating_blasts",
)
# Orders and administrations that stand: a signed order or a dose given (never a draft).
GIVEN_STATUSES = frozenset({"completed", "in-progress"})
ORDERED_STATUSES = frozenset({"active", "completed"})
# Procedure statuses that never stood; the contract's "cancelled" too (no R4 Procedure status,
# but an EHR that writes it means the procedure did not stand).
NOT_DONE = frozenset({"entered-in-error", "cancelled", "not-done"})


class Medications:
    """Medication codes of requests and administrations: inline, contained or referenced."""

    def __init__(self, resources: Iterable[Mapping[str, Any]]) -> None:
        self.by_ref = {ref(r): r for r in resources if r.get("resourceType") == "Medication"}

    def codings(self, resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        found = list(codings(resource.get("medicationCodeableConcept")))
        reference = as_str(as_dict(resource.get("medicationReference")).get("reference"))
        if reference is None:
            return found
        medication: Mapping[str, Any] | None
        if reference.startswith("#"):
            medication = next(
                (
                    as_dict(c)
                    for c in as_list(resource.get("contained"))
                    if as_dict(c).get("resourceType") == "Medication"
                    and as_dict(c).get("id") == reference[1:]
                ),
                None,
            )
        else:
            target = reference_target(resource.get("medicationReference"))
            medication = self.by_ref.get(target) if target else None
        if medication is not None:
            found += codings(medication.get("code"))
        return found


def administered_date(r: Mapping[str, Any]) -> date | None:
    """The date an administration is written for, whatever its status."""
    return full_date(r.get("effectiveDateTime")) or full_date(
        as_dict(r.get("effectivePeriod")).get("start")
    )


def medication_date(r: Mapping[str, Any]) -> date | None:
    """When a medication that stands was given (administration) or ordered (request), else None."""
    if r.get("resourceType") == "MedicationAdministration":
        return administered_date(r) if r.get("status") in GIVEN_STATUSES else None
    if r.get("status") not in ORDERED_STATUSES:
        return None
    return full_date(r.get("authoredOn"))


def day0_candidates(
    care_plans: Iterable[Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    codes: CodeSets,
) -> tuple[Day0Candidate, ...]:
    """Every day 0 candidate: reinduction CarePlans (already read), Procedures and Observations
    coded `reinduction-start`, reinduction drugs given or ordered. A resource that cannot be read
    dates nothing (the order checks name it as unread)."""
    found = [
        Day0Candidate("careplan", d, source) for d, source in reinduction_starts(care_plans, codes)
    ]
    meds = Medications(resources)
    for r in resources:
        kind = r.get("resourceType")
        if kind in ("Procedure", "Observation"):
            status = as_str(r.get("status"))
            if status in NOT_DONE or (kind == "Observation" and status in obs.SKIPPED_STATUSES):
                continue
            if codes.match("reinduction_start", codings(r.get("code"))) is None:
                continue
            # Dated from the raw JSON first: validating is the cost, and undated dates nothing.
            if (when := performed_date(r)) is not None and _readable(r):
                found.append(Day0Candidate("event", when, ref(r)))
        elif kind in ("MedicationRequest", "MedicationAdministration"):
            if (when := medication_date(r)) is None:
                continue
            if codes.match("reinduction_drug", meds.codings(r)) is None or not _readable(r):
                continue
            given = kind == "MedicationAdministration"
            found.append(Day0Candidate("drug" if given else "drug-order", when, ref(r)))
    return tuple(found)


def _readable(r: Mapping[str, Any]) -> bool:
    zoned, _ = with_time_zones(r)
    return validation_problem(zoned) is None
