"""Synthetic relapsed-ALL records of any size, for benchmarks, load and property tests.

The record follows fhir-contract.md: a B-ALL diagnosis, a dated marrow relapse, marrow blasts and
a post-induction MRD; the rest are frontline-era MRD results that must not change the assessment.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from service.engine import KEY_TYPES

CONCEPT = "urn:relapse-all-cds:concept"
AS_OF = date(2026, 11, 22)
DIAGNOSIS = date(2016, 1, 10)
RELAPSE = date(2021, 5, 2)
BIRTH = date(2012, 3, 4)
# Fixed resources of every record: Patient, 2 Conditions, blasts and post-induction MRD.
CORE = 5

Resource = dict[str, Any]


def _concept(code: str) -> dict[str, Any]:
    return {"coding": [{"system": CONCEPT, "code": code}]}


def _observation(rid: str, patient: str, code: str, when: date, value: Any) -> Resource:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": _concept(code),
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when.isoformat(),
        **value,
    }


def _percent(value: float) -> dict[str, Any]:
    return {
        "valueQuantity": {
            "value": value,
            "unit": "%",
            "system": "http://unitsofmeasure.org",
            "code": "%",
        }
    }


def synthetic_record(
    size: int,
    *,
    patient: str = "bench-1",
    mrd_percent: float | None = 0.05,
    mrd_days_after_relapse: int = 35,
) -> list[Resource]:
    """`size` resources (at least CORE) of one patient; `mrd_percent=None` leaves MRD out."""
    if size < CORE:
        raise ValueError(f"a record needs at least {CORE} resources")
    ref = {"reference": f"Patient/{patient}"}
    resources: list[Resource] = [
        {
            "resourceType": "Patient",
            "id": patient,
            "gender": "male",
            "birthDate": BIRTH.isoformat(),
        },
        {
            "resourceType": "Condition",
            "id": f"{patient}-dx",
            "subject": ref,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "277571004"}]},
            "onsetDateTime": DIAGNOSIS.isoformat(),
        },
        {
            "resourceType": "Condition",
            "id": f"{patient}-rel",
            "subject": ref,
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.02"}]},
            "onsetDateTime": RELAPSE.isoformat(),
            "bodySite": [{"coding": [{"system": "http://snomed.info/sct", "code": "14016003"}]}],
        },
        _observation(f"{patient}-blasts", patient, "marrow-blasts", RELAPSE, _percent(40.0)),
    ]
    if mrd_percent is not None:
        when = RELAPSE + timedelta(days=mrd_days_after_relapse)
        resources.append(
            _observation(f"{patient}-mrd", patient, "mrd", when, _percent(mrd_percent))
        )
    # Frontline-era MRD results: read by the mapper, irrelevant to the relapse.
    for i in range(size - len(resources)):
        when = DIAGNOSIS + timedelta(days=30 + i % 1500)
        value = _percent(round(0.001 * (1 + i % 97), 4))
        resources.append(_observation(f"{patient}-f{i}", patient, "mrd", when, value))
    return resources


# Blood counts and chemistry: what a chart three years into treatment holds by the thousand, and
# what no input reads (platelets, 777-3, are read by the response to reinduction: not here).
ROUTINE_LABS = (("718-7", "g/dL", 11.2), ("6690-2", "10*3/uL", 4.1), ("2160-0", "mg/dL", 0.4))


def routine_labs(count: int, *, patient: str = "bench-1") -> list[Resource]:
    """`count` final, coded, dated routine lab results of the patient, as EHRs send them."""
    labs = []
    for i in range(count):
        code, unit, value = ROUTINE_LABS[i % len(ROUTINE_LABS)]
        when = DIAGNOSIS + timedelta(days=i // len(ROUTINE_LABS))
        labs.append(
            {
                "resourceType": "Observation",
                "id": f"{patient}-lab{i}",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": (
                                    "http://terminology.hl7.org/CodeSystem/observation-category"
                                ),
                                "code": "laboratory",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient}"},
                "effectiveDateTime": f"{when.isoformat()}T08:00:00Z",
                "valueQuantity": {
                    "value": value,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    return labs


def searchset(resources: list[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def prefetch_of(resources: list[Resource], **keys: Any) -> dict[str, Any]:
    """The prefetch an EHR would send for the patient-view templates: every key with the
    resources of the type it reads; `keys` replace some (None: no data; an OperationOutcome)."""
    unknown = set(keys) - set(KEY_TYPES)
    if unknown:
        raise ValueError(f"not patient-view prefetch keys: {sorted(unknown)}")
    by_type: dict[str, list[Resource]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    found: dict[str, Any] = {
        key: by_type[kind][0] if key == "patient" else searchset(by_type.get(kind, []))
        for key, kind in KEY_TYPES.items()
    }
    return found | keys


def collection(resources: list[Resource]) -> Resource:
    """A collection Bundle, as `relapse-cds assess` reads."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r} for r in resources
        ],
    }


def hook_body(patient: str, prefetch: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient, "userId": "Practitioner/bench"},
        **extra,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def order_sign_body() -> dict[str, Any]:
    """An order-sign call with full prefetch: the demo patient in reinduction and its draft."""
    from service.demo.catalog import demo_patients

    demo = next(p for p in demo_patients() if p.draft_orders is not None)
    by_type: dict[str, list[Resource]] = {}
    for entry in demo.bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    prefetch = {
        "patient": by_type["Patient"][0],
        "conditions": searchset(by_type.get("Condition", [])),
        "careplans": searchset(by_type.get("CarePlan", [])),
        "procedures": searchset(by_type.get("Procedure", [])),
        "observations": searchset(by_type.get("Observation", [])),
        "medications": searchset(by_type.get("MedicationRequest", [])),
        "administrations": searchset(by_type.get("MedicationAdministration", [])),
    }
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "patientId": demo.patient_id,
            "userId": "Practitioner/bench",
            "draftOrders": demo.draft_orders,
        },
        "prefetch": prefetch,
    }
