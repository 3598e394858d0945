"""Start-up warm-up: pay at start what the first hook call would pay.

The FHIR models (fhir.resources, pydantic) are imported and built on first use; without this,
each worker's first request is more than 20 times slower than the next ones. The app is built
(and warmed) before gunicorn forks; a forked worker's first write to each memory page it shares
with that process (a reference count, a validator's state) is a copy-on-write fault, ~2,000 of
them on the first hook call, which doubled it. So each worker warms up again before it accepts
(`service.server.BoundedThreadWorker`), on a record the validation memo has not seen: a record
seen before would skip the validators, which are most of those pages.
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import date
from typing import Any

from cds_hooks.metrics import import_client
from cds_hooks.models import cards_response
from mappings.codesets import CodeSets
from service.cards import build_cards
from service.engine import assess_resources


def _coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def warm_up_record(patient: str) -> tuple[dict[str, Any], ...]:
    """One resource of every type the engine reads, shaped to reach the schemes and the cards,
    for the Patient `patient` (its id is part of every resource's id)."""
    subject = {"reference": f"Patient/{patient}"}
    return (
        {
            "resourceType": "Patient",
            "id": patient,
            "birthDate": "2010-01-01",
            "gender": "female",
            "name": [{"given": ["Warm"], "family": "Up"}],
        },
        {
            "resourceType": "Condition",
            "id": f"{patient}-dx",
            "subject": subject,
            "code": _coded("http://snomed.info/sct", "277571004"),
            "clinicalStatus": _coded(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "onsetDateTime": "2014-01-01",
            "recordedDate": "2014-01-02",
        },
        {
            "resourceType": "Condition",
            "id": f"{patient}-relapse",
            "subject": subject,
            "code": _coded("http://hl7.org/fhir/sid/icd-10-cm", "C91.02"),
            "onsetDateTime": "2019-01-01",
            "bodySite": [_coded("http://snomed.info/sct", "14016003")],
        },
        {
            "resourceType": "Observation",
            "id": f"{patient}-mrd",
            "status": "final",
            "subject": subject,
            "code": _coded("urn:relapse-all-cds:concept", "mrd"),
            "effectiveDateTime": "2019-02-05",
            "valueQuantity": {"value": 0.01, "unit": "%", "system": "http://unitsofmeasure.org"},
            "bodySite": _coded("http://snomed.info/sct", "14016003"),
            "specimen": {"reference": "Specimen/warm-up"},
        },
        {
            "resourceType": "Observation",
            "id": f"{patient}-karyotype",
            "status": "final",
            "subject": subject,
            "code": _coded("http://loinc.org", "62356-1"),
            "effectivePeriod": {"start": "2014-01-01"},
            "valueString": "46,XY,t(9;22)(q34;q11)[20]",
        },
        {
            "resourceType": "Observation",
            "id": f"{patient}-variant",
            "status": "final",
            "subject": subject,
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
            "id": f"{patient}-procedure",
            "status": "completed",
            "subject": subject,
            "code": _coded("urn:relapse-all-cds:concept", "end-of-frontline-therapy"),
            "performedPeriod": {"start": "2016-01-01", "end": "2016-01-01"},
        },
        # Reinduction from an idarubicin dose, a day-28 marrow and counts: the response (§7).
        {
            "resourceType": "MedicationAdministration",
            "id": f"{patient}-idarubicin",
            "status": "completed",
            "subject": subject,
            "medicationCodeableConcept": _coded(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "5650"
            ),
            "effectiveDateTime": "2019-01-10",
        },
        # Its order, naming the drug by a contained Medication: the drug validators the first
        # real call would otherwise build.
        {
            "resourceType": "MedicationRequest",
            "id": f"{patient}-idarubicin-order",
            "status": "completed",
            "intent": "order",
            "subject": subject,
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "idarubicin",
                    "code": _coded("http://www.nlm.nih.gov/research/umls/rxnorm", "5650"),
                }
            ],
            "medicationReference": {"reference": "#idarubicin"},
            "authoredOn": "2019-01-09",
        },
        {
            "resourceType": "Observation",
            "id": f"{patient}-blasts",
            "status": "final",
            "subject": subject,
            "code": _coded("urn:relapse-all-cds:concept", "marrow-blasts"),
            "effectiveDateTime": "2019-02-07",
            "valueQuantity": {"value": 2, "unit": "%", "system": "http://unitsofmeasure.org"},
        },
        {
            "resourceType": "Observation",
            "id": f"{patient}-anc",
            "status": "final",
            "subject": subject,
            "code": _coded("http://loinc.org", "751-8"),
            "effectiveDateTime": "2019-02-07",
            "valueQuantity": {
                "value": 1.2,
                "unit": "10*3/uL",
                "system": "http://unitsofmeasure.org",
                "code": "10*3/uL",
            },
        },
        {
            "resourceType": "CarePlan",
            "id": f"{patient}-careplan",
            "status": "completed",
            "intent": "plan",
            "subject": subject,
            "title": "Frontline therapy",
            "category": [{"text": "frontline"}],
            "period": {"start": "2014-01-15", "end": "2016-01-01"},
        },
    )


# Where create_app leaves the app's warm-up for the gunicorn worker (Flask.extensions).
WORKER_WARM_UP = "relapse_cds.warm_up"
_runs = itertools.count()


def warm_up(codes: CodeSets, primary: str) -> None:
    """Assess a record of its own and encode the cards, as a hook call does (nothing recorded)."""
    import_client()
    record = warm_up_record(f"warm-up-{os.getpid()}-{next(_runs)}")
    result = assess_resources(record, codes=codes, primary=primary, as_of=date(2020, 1, 1))
    json.dumps(cards_response(build_cards(result, app_url="http://localhost/app/launch")))
