"""Records as real EHRs write them (issue 12): Synthea transaction Bundles, Epic encounter
diagnoses, Oracle Health recurrence status, phased CarePlans, sites in text.

All data here is synthetic, written in the shapes those systems use.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mappings.codesets import CodeSets
from mappings.extract import extract, resources_from_bundle
from service.domain.inputs import Site
from tests.mappings.builders import CM, SCT, cc

PATIENT_UUID = "9c1d8f0a-5d7e-4c2b-8a61-3f0e2b7d4c11"
OTHER_UUID = "0f3b6a2e-1c4d-4e8f-9a7b-2d5c6e8f1a30"


def _synthea_bundle(*resources: dict[str, Any], patient_id: bool = True) -> dict[str, Any]:
    """A Synthea-style transaction Bundle: every entry by urn:uuid, references by fullUrl."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "birthDate": "2012-05-20",
        "gender": "male",
    }
    if patient_id:
        patient["id"] = PATIENT_UUID
    entries = [{"fullUrl": f"urn:uuid:{PATIENT_UUID}", "resource": patient}]
    for r in resources:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _synthea_condition(
    rid: str, subject: str, onset: str, *codes: tuple[str, str]
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
        "verificationStatus": cc(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
        ),
        "category": [
            cc("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")
        ],
        "code": {"coding": [{"system": s, "code": c} for s, c in codes]},
        "subject": {"reference": f"urn:uuid:{subject}"},
        "onsetDateTime": onset,
        "recordedDate": onset,
    }


def _synthea_record(subject_of_relapse: str) -> list[dict[str, Any]]:
    dx = _synthea_condition("c-dx", PATIENT_UUID, "2018-03-10T09:00:00-05:00", (SCT, "91857003"))
    rel = _synthea_condition(
        "c-rel", subject_of_relapse, "2021-06-15T10:30:00-05:00", (CM, "C91.02")
    )
    rel["bodySite"] = [cc(SCT, "14016003")]
    return [dx, rel]


def test_urn_uuid_subjects_resolve_to_the_patient(codes: CodeSets) -> None:
    resources = resources_from_bundle(_synthea_bundle(*_synthea_record(PATIENT_UUID)))
    inputs = extract(resources, codes)
    assert inputs.patient == f"Patient/{PATIENT_UUID}"
    assert (inputs.diagnosis_date, inputs.relapse_date) == (date(2018, 3, 10), date(2021, 6, 15))
    assert inputs.sites == frozenset({Site.MARROW})


def test_a_patient_without_id_takes_its_urn_uuid(codes: CodeSets) -> None:
    bundle = _synthea_bundle(*_synthea_record(PATIENT_UUID), patient_id=False)
    inputs = extract(resources_from_bundle(bundle), codes)
    assert inputs.patient == f"Patient/{PATIENT_UUID}"
    assert inputs.relapse_date == date(2021, 6, 15)


def test_urn_uuid_subject_of_someone_else_is_ignored_and_named(codes: CodeSets) -> None:
    inputs = extract(resources_from_bundle(_synthea_bundle(*_synthea_record(OTHER_UUID))), codes)
    assert not inputs.relapsed
    assert "Condition/c-rel does not refer to this patient and was ignored" in inputs.warnings


def test_a_subject_that_is_not_a_patient_is_ignored(codes: CodeSets) -> None:
    dx, rel = _synthea_record(PATIENT_UUID)
    rel["subject"] = {"reference": "Group/ward-4"}
    inputs = extract(resources_from_bundle(_synthea_bundle(dx, rel)), codes)
    assert not inputs.relapsed
    assert "Condition/c-rel does not refer to this patient and was ignored" in inputs.warnings
