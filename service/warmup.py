"""Start-up warm-up: pay before gunicorn forks what the first hook call would pay.

The FHIR models (fhir.resources, pydantic) are imported and built on first use; without this,
each worker's first request is more than 20 times slower than the next ones.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cds_hooks.metrics import import_client
from mappings.codesets import CodeSets
from service.cards import build_cards
from service.engine import assess_resources

_SUBJECT = {"reference": "Patient/warm-up"}


def _coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


# One resource of every type the engine reads, shaped to reach the schemes and the cards.
WARM_UP_RECORD: tuple[dict[str, Any], ...] = (
    {
        "resourceType": "Patient",
        "id": "warm-up",
        "birthDate": "2010-01-01",
        "gender": "female",
        "name": [{"given": ["Warm"], "family": "Up"}],
    },
    {
        "resourceType": "Condition",
        "id": "warm-up-dx",
        "subject": _SUBJECT,
        "code": _coded("http://snomed.info/sct", "277571004"),
        "clinicalStatus": _coded(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
        ),
        "onsetDateTime": "2014-01-01",
        "recordedDate": "2014-01-02",
    },
    {
        "resourceType": "Condition",
        "id": "warm-up-relapse",
        "subject": _SUBJECT,
        "code": _coded("http://hl7.org/fhir/sid/icd-10-cm", "C91.02"),
        "onsetDateTime": "2019-01-01",
        "bodySite": [_coded("http://snomed.info/sct", "14016003")],
    },
    {
        "resourceType": "Observation",
        "id": "warm-up-mrd",
        "status": "final",
        "subject": _SUBJECT,
        "code": _coded("urn:relapse-all-cds:concept", "mrd"),
        "effectiveDateTime": "2019-02-05",
        "valueQuantity": {"value": 0.01, "unit": "%", "system": "http://unitsofmeasure.org"},
        "bodySite": _coded("http://snomed.info/sct", "14016003"),
        "specimen": {"reference": "Specimen/warm-up"},
    },
    {
        "resourceType": "Observation",
        "id": "warm-up-karyotype",
        "status": "final",
        "subject": _SUBJECT,
        "code": _coded("http://loinc.org", "62356-1"),
        "effectivePeriod": {"start": "2014-01-01"},
        "valueString": "46,XY,t(9;22)(q34;q11)[20]",
    },
    {
        "resourceType": "Observation",
        "id": "warm-up-variant",
        "status": "final",
        "subject": _SUBJECT,
        "code": _coded("http://loinc.org", "69548-6"),
        "effectiveDateTime": "2014-01-02T10:00:00Z",
        "valueCodeableConcept": _coded("http://loinc.org", "LA9633-4"),
        "component": [
            {
                "code": _coded("http://loinc.org", "48018-6"),
                "valueCodeableConcept": _coded("http://www.genenames.org", "HGNC:11998"),
            }
        ],
    },
    {
        "resourceType": "Procedure",
        "id": "warm-up-procedure",
        "status": "completed",
        "subject": _SUBJECT,
        "code": _coded("urn:relapse-all-cds:concept", "end-of-frontline-therapy"),
        "performedPeriod": {"start": "2016-01-01", "end": "2016-01-01"},
    },
    {
        "resourceType": "CarePlan",
        "id": "warm-up-careplan",
        "status": "completed",
        "intent": "plan",
        "subject": _SUBJECT,
        "title": "Frontline therapy",
        "category": [{"text": "frontline"}],
        "period": {"start": "2014-01-15", "end": "2016-01-01"},
    },
)


def warm_up(codes: CodeSets, primary: str) -> None:
    import_client()
    result = assess_resources(WARM_UP_RECORD, codes=codes, primary=primary, as_of=date(2020, 1, 1))
    build_cards(result, app_url="http://localhost/app/launch")
