"""FHIR resources in, an assessment out: the one path every entry point takes.

The CDS Hooks handler, the SMART app, the sandbox and the command line all come through here, so
the same record always gives the same assessment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_hooks.errors import PrefetchFailure
from cds_hooks.fhir import FhirClient
from cds_hooks.prefetch import render_template
from mappings.codesets import OBSERVATION_SETS, CodeSets
from mappings.extract import extract
from mappings.orders import read_record
from service.domain import assess
from service.domain.assessment import Assessment
from service.domain.orders import Day0Kind, FailedRead

# The engine cannot say whether ALL relapsed without the patient and the conditions.
REQUIRED_KEYS = frozenset({"patient", "conditions"})

# What each prefetch key holds, for "could not be read" messages a clinician understands.
KEY_LABELS: dict[str, str] = {
    "patient": "Patient (birth date, sex)",
    "conditions": "Conditions (diagnosis, relapse, sites, HSCT)",
    "observations": "Observations (MRD, marrow blasts, karyotype, genomics)",
    "procedures": "Procedures (HSCT, end of frontline therapy)",
    "careplans": "CarePlans (frontline therapy dates, reinduction day 0)",
    "medications": "MedicationRequests (reinduction drugs ordered: day 0)",
    "administrations": "MedicationAdministrations (reinduction drugs given: day 0)",
}


# What of the response to reinduction (risk-schemes §7) each optional key can hold: day-0
# candidates of these kinds (fhir-contract.md, "Reinduction"), and the marrows and counts. A key
# that fails leaves the response `indeterminate`, naming it (service.domain.response).
RESPONSE_READS: dict[str, tuple[frozenset[Day0Kind], bool]] = {
    "observations": (frozenset({"event"}), True),
    "procedures": (frozenset({"event"}), False),
    "careplans": (frozenset({"careplan"}), False),
    "medications": (frozenset({"drug-order"}), False),
    "administrations": (frozenset({"drug"}), False),
}


RESPONSE_OBSERVATION_SETS = (
    *OBSERVATION_SETS,
    "anc",
    "platelets",
    "circulating_blasts",
    "reinduction_start",
)


PATIENT_ID = "{{context.patientId}}"
# Reinduction drugs ordered and given date day 0 (fhir-contract.md, "Reinduction"): one key per
# type, as one R4 search cannot return both; unfiltered, as a contained or referenced Medication
# may be what names the drug. The order-sign hook reads the same two keys.
DRUG_KEYS = {"medications": "MedicationRequest", "administrations": "MedicationAdministration"}
# Each prefetch key and the resource type it reads, in the order discovery lists them.
KEY_TYPES: dict[str, str] = {
    "patient": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "procedures": "Procedure",
    "careplans": "CarePlan",
    **DRUG_KEYS,
}
# What the engine reads (the SMART app asks to read exactly these types).
RESOURCE_TYPES = tuple(KEY_TYPES.values())


def patient_search(resource_type: str, codes: Iterable[tuple[str, str]] | None = None) -> str:
    """An R4 search for the patient's resources of one type, with `code` when `codes` is given."""
    query = f"{resource_type}?patient={PATIENT_ID}"
    return query if codes is None else query + "&code=" + ",".join(f"{s}|{c}" for s, c in codes)


def drug_templates() -> dict[str, str]:
    return {key: patient_search(resource_type) for key, resource_type in DRUG_KEYS.items()}


def prefetch_templates(codes: CodeSets) -> dict[str, str]:
    """Prefetch templates (valid R4 searches) generated from the configured code sets."""
    # The risk assessment's codes, and what the response to reinduction reads (risk-schemes §7;
    # fhir-contract.md: blood counts within this key's code list).
    filters = {"observations": codes.observation_codes(RESPONSE_OBSERVATION_SETS)}
    return {
        key: f"Patient/{PATIENT_ID}"
        if key == "patient"
        else patient_search(resource_type, filters.get(key))
        for key, resource_type in KEY_TYPES.items()
    }


@dataclass(frozen=True)
class EngineResult:
    assessment: Assessment
    failures: dict[str, PrefetchFailure] = field(default_factory=dict)  # by prefetch key


def assess_resources(
    resources: Iterable[Mapping[str, Any]],
    *,
    codes: CodeSets,
    primary: str,
    as_of: date,
    failures: Mapping[str, PrefetchFailure] | None = None,
    check: Callable[[], None] | None = None,
) -> EngineResult:
    """`check` may raise to stop the work (see `extract`)."""
    resources = list(resources)
    inputs = extract(resources, codes, check=check)
    failed = [
        FailedRead(KEY_LABELS.get(key, key), *RESPONSE_READS[key])
        for key in sorted(failures or {})
        if key in RESPONSE_READS
    ]
    record = None
    if (
        inputs.relapsed
        and inputs.relapse_count == 1
        and inputs.patient is not None
        and (inputs.day0_candidates or failed)
    ):
        # The response to reinduction (risk-schemes §7) reads what the order-sign checks read;
        # without a day-0 candidate (read by the extract) there is no reinduction to read,
        # unless what could hold one could not be read: the assessment then says so.
        patient_id = inputs.patient.removeprefix("Patient/")
        record = read_record(
            resources, codes, patient_id=patient_id, inputs=inputs, failed_reads=failed
        )
    return EngineResult(assess(inputs, as_of, primary, record), dict(failures or {}))


def fetch_and_assess(
    client: FhirClient,
    patient_id: str,
    *,
    codes: CodeSets,
    primary: str,
    as_of: date,
    deadline: float,
) -> EngineResult:
    """Read the patient's record through `client` (in parallel) and assess it."""
    context = {"patientId": patient_id}
    queries = {
        key: render_template(template, context)
        for key, template in prefetch_templates(codes).items()
    }
    found, failures = client.fetch_all(queries, deadline)
    resources = [resource for key in queries for resource in found.get(key, ())]
    return assess_resources(resources, codes=codes, primary=primary, as_of=as_of, failures=failures)
