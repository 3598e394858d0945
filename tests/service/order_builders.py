"""Synthetic FHIR for the CALL-0603 order-sign checks: a first relapse in reinduction.

Diagnosis 2018-03-10, marrow relapse 2026-01-28, reinduction CarePlan from 2026-02-01 (day 0).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.mappings.builders import LOINC, cc, diagnosis, observation, patient, relapse

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DAY0 = date(2026, 2, 1)
SUBJECT = {"reference": "Patient/p"}
IDARUBICIN = cc(RXNORM, "5650")


def day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).isoformat()


def reinduction_plan(start: str = DAY0.isoformat()) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "reinduction",
        "status": "active",
        "intent": "plan",
        "subject": SUBJECT,
        "title": "CALL-0603 reinduction",
        "period": {"start": start},
    }


def record() -> list[dict[str, Any]]:
    return [patient(), diagnosis(), relapse("rel", "2026-01-28", "14016003"), reinduction_plan()]


def quantity(rid: str, code: str, value: float, unit: str, on: str) -> dict[str, Any]:
    return observation(
        rid,
        cc(LOINC, code),
        on,
        valueQuantity={
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    )


def anc(value: float, unit: str = "/uL", on: str = day(14), rid: str = "anc") -> dict[str, Any]:
    return quantity(rid, "751-8", value, unit, on)


def platelets(
    value: float, unit: str = "/uL", on: str = day(14), rid: str = "plt"
) -> dict[str, Any]:
    return quantity(rid, "777-3", value, unit, on)


def good_counts(on: str = day(14)) -> list[dict[str, Any]]:
    return [anc(1200, on=on), platelets(120_000, on=on)]


def bsa(value: float, on: str = day(0)) -> dict[str, Any]:
    return quantity("bsa", "8277-6", value, "m2", on)


def height(cm: float, on: str = day(0)) -> dict[str, Any]:
    return quantity("height", "8302-2", cm, "cm", on)


def weight(kg: float, on: str = day(0)) -> dict[str, Any]:
    return quantity("weight", "29463-7", kg, "kg", on)


def marrow(percent: float, on: str = day(14), rid: str = "bm14") -> dict[str, Any]:
    return observation(
        rid,
        cc("urn:relapse-all-cds:concept", "marrow-blasts"),
        on,
        valueQuantity={"value": percent, "unit": "%", "code": "%"},
    )


def given(n: int) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "id": f"ida-given-{n}",
        "status": "completed",
        "subject": SUBJECT,
        "medicationCodeableConcept": IDARUBICIN,
        "effectiveDateTime": day(n),
    }


def draft(
    dose: float = 10, unit: str = "mg/m2", on: str | None = day(14), rid: str = "draft-ida"
) -> dict[str, Any]:
    instruction: dict[str, Any] = {
        "text": "idarubicin IV",
        "doseAndRate": [
            {
                "doseQuantity": {
                    "value": dose,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                }
            }
        ],
    }
    if on is not None:
        instruction["timing"] = {"event": [on]}
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": IDARUBICIN,
        "authoredOn": day(13),
        "dosageInstruction": [instruction],
    }
