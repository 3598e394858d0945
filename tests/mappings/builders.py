"""Small FHIR JSON builders for the mapping tests (synthetic data)."""

from __future__ import annotations

from typing import Any

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CM = "http://hl7.org/fhir/sid/icd-10-cm"
O3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OWN = "urn:relapse-all-cds:concept"
HGNC = "http://www.genenames.org"
SUBJECT = {"reference": "Patient/p"}


def cc(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def patient(birth: str = "2012-05-20") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p", "birthDate": birth, "gender": "female"}


def condition(rid: str, *codes: tuple[str, str], **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "subject": SUBJECT,
        "code": {"coding": [{"system": s, "code": c} for s, c in codes]},
    }
    r.update(extra)
    return r


def diagnosis(onset: str = "2018-03-10", *codes: tuple[str, str]) -> dict[str, Any]:
    return condition("dx", *(codes or ((SCT, "277571004"),)), onsetDateTime=onset)


def relapse(rid: str, onset: str, *sites: str) -> dict[str, Any]:
    return condition(rid, (CM, "C91.02"), onsetDateTime=onset, bodySite=[cc(SCT, s) for s in sites])


def observation(
    rid: str, code: dict[str, Any], when: str | None = None, **value: Any
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": SUBJECT,
        "code": code,
    }
    if when is not None:
        r["effectiveDateTime"] = when
    r.update(value)
    return r


def procedure(
    rid: str, concept: str, when: str | None, status: str = "completed"
) -> dict[str, Any]:
    """A Procedure coded with one of our concepts (`end-of-frontline-therapy`, ...)."""
    r: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": rid,
        "status": status,
        "subject": SUBJECT,
        "code": cc(OWN, concept),
    }
    if when is not None:
        r["performedDateTime"] = when
    return r


def mrd(rid: str, when: str, **value: Any) -> dict[str, Any]:
    return observation(rid, cc(OWN, "mrd"), when, **value)


def genomic(rid: str, genes: list[str], answer: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "component": [
            {"code": cc(LOINC, "48018-6"), "valueCodeableConcept": cc(HGNC, g)} for g in genes
        ]
    }
    if answer is not None:
        value["valueCodeableConcept"] = cc(LOINC, answer)
    return observation(rid, cc(LOINC, "69548-6"), "2018-03-12", **value)


def late_marrow_relapse() -> list[dict[str, Any]]:
    """Diagnosis 2018-03-10, marrow relapse 2021-06-15."""
    return [patient(), diagnosis(), relapse("rel", "2021-06-15", "14016003")]
