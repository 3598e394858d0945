"""Resources the mapping counts as ignored can change nothing: taking them out of a record leaves
its assessment as it was (but for the count), and no resource the code sets name is among them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data import AS_OF, CORE, synthetic_record
from mappings.codesets import OBSERVATION_SETS, load_codesets
from mappings.conditions import LINEAGE_SETS
from mappings.extract import extract, resources_from_bundle
from service.engine import assess_resources
from tests.conftest import FIXTURES, MCODE_EXAMPLE

CODES = load_codesets(None)
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
CONCEPT = "urn:relapse-all-cds:concept"
FIXTURE_RECORDS = [
    resources_from_bundle(json.loads(path.read_text(encoding="utf-8")))
    for path in (
        MCODE_EXAMPLE,
        FIXTURES / "b-early-combined.json",
        FIXTURES / "prior-hsct.json",
        FIXTURES / "gen-bcr-abl1.json",
        FIXTURES / "no-end-of-therapy.json",
        FIXTURES / "refractory.json",
    )
]
# (system, code) of every Observation, Condition and Procedure code the mapping reads, and a few
# it does not: a resource drawn with them may or may not be read.
READ_CODES = sorted({(e.system, e.code) for s in CODES.sets.values() for e in s.values()})
OTHER_CODES = [(LOINC, "718-7"), (LOINC, "6690-2"), (LOINC, "777-3"), (SCT, "195967001")]


def assessment(resources: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = assess_resources(
        resources, codes=CODES, primary="bfm", as_of=AS_OF
    ).assessment.to_json()
    return found


def ignored_beside(resource: dict[str, Any], patient: dict[str, Any]) -> bool:
    """Whether the mapping ignores `resource` in a record of its patient."""
    return resource is not patient and extract([patient, resource], CODES).ignored == 1


def spellings(system: str) -> list[str]:
    """A system as EHRs write it (an http one also with https and a trailing '/')."""
    if not system.startswith("http://"):
        return [system]
    return [system, system.replace("http://", "https://"), system + "/"]


@st.composite
def resources(draw: st.DrawFn, patient: str) -> dict[str, Any]:
    system, code = draw(st.sampled_from(READ_CODES + OTHER_CODES))
    kind = draw(
        st.sampled_from(
            ["Observation", "Condition", "Procedure", "CarePlan", "Encounter", "MedicationRequest"]
        )
    )
    statuses = {
        "Observation": ["final", "amended", "preliminary", "cancelled", "entered-in-error"],
        "Procedure": ["completed", "in-progress", "not-done", "entered-in-error"],
        "CarePlan": ["active", "completed", "draft", "entered-in-error"],
        "Encounter": ["finished"],
        "MedicationRequest": ["active"],
    }
    r: dict[str, Any] = {
        "resourceType": kind,
        "id": f"n{draw(st.integers(0, 10**6))}",
        "subject": {"reference": f"Patient/{draw(st.sampled_from([patient, patient, 'other']))}"},
        "code": {"coding": [{"system": draw(st.sampled_from(spellings(system))), "code": code}]},
    }
    if kind in statuses:
        r["status"] = draw(st.sampled_from(statuses[kind]))
    if kind == "Condition":
        verification = draw(st.sampled_from([None, "confirmed", "refuted", "entered-in-error"]))
        if verification is not None:
            r["verificationStatus"] = {"coding": [{"code": verification}]}
        r["onsetDateTime"] = draw(st.sampled_from(["2016-01-10", "2021-05-02", "2021-06-20"]))
    if kind == "Observation":
        r["effectiveDateTime"] = draw(st.sampled_from(["2016-03-01", "2021-05-02", "2021-06-10"]))
        r["valueQuantity"] = {"value": draw(st.sampled_from([0.001, 0.5, 40.0])), "unit": "%"}
    if kind == "CarePlan":
        r["intent"] = "plan"
        r["title"] = draw(st.sampled_from(["Frontline therapy", "Maintenance", "Diet"]))
        del r["code"]
    return r


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    base = draw(
        st.sampled_from(FIXTURE_RECORDS)
        | st.builds(synthetic_record, st.integers(min_value=CORE, max_value=12))
    )
    patient = next(r for r in base if r["resourceType"] == "Patient")
    noise = draw(st.lists(resources(patient["id"]), max_size=12))
    mixed = draw(st.permutations([*base, *noise]))
    return list(mixed)


@settings(max_examples=150, deadline=None)
@given(record=records())
def test_taking_out_the_ignored_changes_nothing(record: list[dict[str, Any]]) -> None:
    patient = next(r for r in record if r["resourceType"] == "Patient")
    kept = [r for r in record if not ignored_beside(r, patient)]
    full, reduced = assessment(record), assessment(kept)
    assert full.pop("ignored") == len(record) - len(kept)
    assert reduced.pop("ignored") == 0
    assert full == reduced


# What each resource type is read for (fhir-contract.md), with the statuses that are read.
READ_SETS = {
    "Observation": (OBSERVATION_SETS, ("final", "amended", "corrected", "preliminary", None)),
    "Condition": (
        ("all_condition", *LINEAGE_SETS, "refractory", "hsct_condition", "not_in_remission"),
        (None,),
    ),
    "Procedure": (
        ("hsct_procedure", "end_of_frontline_therapy", "reinduction_start"),
        ("completed", "in-progress", None),
    ),
}


@pytest.mark.parametrize("kind", sorted(READ_SETS))
def test_no_resource_coded_from_the_code_sets_is_ignored(kind: str) -> None:
    """Never ignored: a resource of this patient with a code the mapping reads, however its
    system is spelled, in any status but those a status rule leaves out."""
    patient = {"resourceType": "Patient", "id": "p"}
    names, statuses = READ_SETS[kind]
    for name in names:
        for entry in CODES.sets[name].values():
            for system in spellings(entry.system):
                for status in statuses:
                    resource: dict[str, Any] = {
                        "resourceType": kind,
                        "id": "r",
                        "subject": {"reference": "Patient/p"},
                        "code": {"coding": [{"system": system, "code": entry.code}]},
                    }
                    if status is not None:
                        resource["status"] = status
                    assert not ignored_beside(resource, patient), (name, entry.code, status)


def test_care_plans_and_specimens_are_read() -> None:
    patient = {"resourceType": "Patient", "id": "p"}
    for status in ("draft", "active", "on-hold", "revoked", "completed", "unknown"):
        plan = {"resourceType": "CarePlan", "id": "c", "status": status, "intent": "plan"}
        assert not ignored_beside({**plan, "subject": {"reference": "Patient/p"}}, patient)
    assert not ignored_beside({"resourceType": "Specimen", "id": "s"}, patient)


def test_another_patients_resource_is_named_not_counted() -> None:
    other = {
        "resourceType": "Observation",
        "id": "x",
        "status": "final",
        "subject": {"reference": "Patient/someone-else"},
        "code": {"coding": [{"system": LOINC, "code": "718-7"}]},
    }
    found = assessment([*synthetic_record(CORE), other])
    assert found["ignored"] == 0
    assert "Observation/x does not refer to this patient and was ignored" in found["warnings"]


def test_a_routine_lab_is_ignored_and_counted() -> None:
    lab = {
        "resourceType": "Observation",
        "id": "hb",
        "status": "final",
        "subject": {"reference": "Patient/bench-1"},
        "code": {"coding": [{"system": LOINC, "code": "718-7"}]},
        "valueQuantity": {"value": 11.2, "unit": "g/dL"},
    }
    found = assessment([*synthetic_record(CORE), lab, {**lab, "id": "hb2"}])
    assert found["ignored"] == 2
    assert not any("Observation/hb" in w for w in found["warnings"])


def test_what_the_response_to_reinduction_reads_is_never_ignored() -> None:
    # Found by the property above: an ignored Procedure made the response be read, and with it
    # a day 0 from an Observation; and blood counts and medications are read there, not here.
    patient = {"resourceType": "Patient", "id": "p"}
    subject = {"reference": "Patient/p"}
    read_there = [
        {"resourceType": "MedicationRequest", "id": "m", "subject": subject, "status": "active"},
        {
            "resourceType": "Observation",
            "id": "anc",
            "subject": subject,
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "751-8"}]},
        },
    ]
    assert not any(ignored_beside(r, patient) for r in read_there)
    record = synthetic_record(CORE)
    start = {
        "resourceType": "Observation",
        "id": "start",
        "subject": {"reference": f"Patient/{record[0]['id']}"},
        "status": "final",
        "code": {"coding": [{"system": CONCEPT, "code": "reinduction-start"}]},
        "effectiveDateTime": "2021-05-02",
    }
    other = {**start, "resourceType": "Procedure", "id": "other", "status": "completed"}
    other["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C91.0"}]}
    assert ignored_beside(other, record[0])
    with_other, without = assessment([*record, start, other]), assessment([*record, start])
    assert with_other.pop("ignored") == 1
    without.pop("ignored")
    assert with_other == without


def test_a_medication_a_drug_order_refers_to_is_never_ignored() -> None:
    # Its code can name the reinduction drug that dates day 0 (fhir-contract.md, "Reinduction
    # and its response"): taking it out would lose that day 0.
    patient = {"resourceType": "Patient", "id": "p"}
    medication = {
        "resourceType": "Medication",
        "id": "ida",
        "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "L01DB06"}]},
    }
    order = {
        "resourceType": "MedicationRequest",
        "id": "o",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationReference": {"reference": "Medication/ida"},
        "authoredOn": "2021-06-20",
    }
    read = extract([patient, medication, order], CODES)
    assert read.ignored == 0
    assert [(c.kind, c.source) for c in read.day0_candidates] == [
        ("drug-order", "MedicationRequest/o")
    ]
