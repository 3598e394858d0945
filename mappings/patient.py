"""Patient: birth date and sex (fhir-contract.md, "Patient")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mappings.fhirjson import as_str, full_date, is_partial_date, ref


@dataclass(frozen=True, slots=True)
class PatientFacts:
    ref: str
    birth_date: date | None
    sex: str | None
    warnings: tuple[str, ...] = ()


def read_patient(resource: Mapping[str, Any]) -> PatientFacts:
    r = ref(resource)
    raw = resource.get("birthDate")
    warnings: tuple[str, ...] = ()
    if raw is None:
        warnings = (f"{r} has no birth date: ages cannot be computed",)
    elif is_partial_date(raw):
        warnings = (f"{r} has a birth date that is not a full date: ages cannot be computed",)
    return PatientFacts(r, full_date(raw), as_str(resource.get("gender")), warnings)
