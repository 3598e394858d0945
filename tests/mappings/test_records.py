"""Records as real EHRs write them (issue 12): Synthea transaction Bundles, Epic encounter
diagnoses, Oracle Health recurrence status, phased CarePlans, sites in text.

All data here is synthetic, written in the shapes those systems use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mappings.codesets import CodeSets, load_codesets
from mappings.errors import InvalidCodeSets
from mappings.extract import extract, resources_from_bundle
from mappings.orders import read_record
from service.cards import ASSESSMENT_EXTENSION, build_cards
from service.domain.inputs import RelapseInputs, Site
from service.domain.orders import Day0, reinduction_day0
from service.engine import assess_resources
from tests.mappings.builders import (
    CM,
    LOINC,
    O3,
    SCT,
    cc,
    diagnosis,
    observation,
    patient,
    procedure,
    relapse,
)

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


# --- Sites in text (Epic encounter diagnoses: ICD-10-CM + SNOMED, bodySite as typed) ----------

EPIC_ICD = "http://hl7.org/fhir/sid/icd-10-cm"
AS_OF = date(2021, 9, 1)


def _epic_relapse(rid: str, onset: str, *body_sites: dict[str, Any]) -> dict[str, Any]:
    """An Epic-style encounter diagnosis: ICD-10-CM and SNOMED codings side by side."""
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
        "category": [
            cc("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")
        ],
        "code": {
            "coding": [
                {"system": EPIC_ICD, "code": "C91.02", "display": "ALL, in relapse"},
                {"system": SCT, "code": "91857003", "display": "Acute lymphoid leukemia"},
            ],
            "text": "Relapsed B-ALL",
        },
        "subject": {"reference": "Patient/p", "display": "Test, Patient"},
        "onsetDateTime": onset,
        "recordedDate": onset,
        "bodySite": list(body_sites),
    }


def _epic_record(*body_sites: dict[str, Any]) -> list[dict[str, Any]]:
    dx = _epic_relapse("dx", "2018-03-10")
    dx["code"]["coding"] = [
        {"system": EPIC_ICD, "code": "C91.00"},
        {"system": SCT, "code": "277571004"},
    ]
    del dx["bodySite"]
    return [
        {"resourceType": "Patient", "id": "p", "birthDate": "2012-05-20", "gender": "male"},
        dx,
        _epic_relapse("rel", "2021-06-15", *body_sites),
        {
            "resourceType": "CarePlan",
            "id": "frontline",
            "status": "completed",
            "intent": "plan",
            "title": "Frontline ALL therapy",
            "subject": {"reference": "Patient/p"},
            "period": {"start": "2018-03-12", "end": "2020-06-01"},
        },
    ]


def _text(text: str) -> dict[str, Any]:
    return {"text": text}


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("Bone marrow", Site.MARROW),
        ("MARROW", Site.MARROW),
        ("bone  marrow, posterior iliac crest", Site.MARROW),
        ("Cerebrospinal fluid", Site.CNS),
        ("CSF", Site.CNS),
        ("Central Nervous System", Site.CNS),
        ("brain", Site.CNS),
        ("Meninges", Site.CNS),
        ("Left testicle", Site.TESTIS),
        ("testes", Site.TESTIS),
        ("Testicular", Site.TESTIS),
        ("testis, right", Site.TESTIS),
    ],
)
def test_site_text_is_read_on_whole_words(codes: CodeSets, text: str, site: Site) -> None:
    inputs = extract(_epic_record(_text(text)), codes)
    assert inputs.sites == frozenset({site})
    assert inputs.sites_from_text == frozenset({site})
    assert not inputs.sites_incomplete


def test_bone_marrow_in_text_is_a_marrow_relapse_not_extramedullary(codes: CodeSets) -> None:
    result = assess_resources(
        _epic_record(_text("Bone marrow")), codes=codes, primary="bfm", as_of=AS_OF
    )
    assert result.assessment.site_pattern == "isolated_marrow"
    risk = build_cards(result, app_url=None)[0]
    assert risk.extension is not None
    assert risk.extension[ASSESSMENT_EXTENSION]["inputs"]["sites_from_text"] == ["marrow"]
    sites_line = next(x for x in (risk.detail or "").splitlines() if "Relapse sites" in x)
    assert "read from text" in sites_line


@pytest.mark.parametrize(
    "text", ["no CNS involvement", "CSF negative", "testes normal", "Brain: not involved"]
)
def test_a_negated_site_text_names_no_site(codes: CodeSets, text: str) -> None:
    inputs = extract(_epic_record(cc(SCT, "14016003"), _text(text)), codes)
    assert inputs.sites == frozenset({Site.MARROW})
    assert inputs.sites_from_text == frozenset()
    assert not inputs.sites_incomplete


@pytest.mark.parametrize("text", ["Left orbit", "BM", "marrowbone", "CNS1", "skin"])
def test_text_naming_no_known_site_is_unknown_never_other(codes: CodeSets, text: str) -> None:
    inputs = extract(_epic_record(_text(text)), codes)
    assert inputs.sites is None
    assert inputs.sites_incomplete
    assert "Condition/rel: a bodySite names no known site (site unknown)" in inputs.warnings


def test_an_unknown_text_site_beside_a_coded_cns_is_not_isolated_cns(codes: CodeSets) -> None:
    # "BM" may be the marrow: the relapse cannot be called isolated extramedullary.
    resources = _epic_record(cc(SCT, "21483005"), _text("BM"))
    result = assess_resources(resources, codes=codes, primary="bfm", as_of=AS_OF)
    assert result.assessment.site_pattern == "indeterminate"
    assert result.assessment.schemes["bfm"].group == "indeterminate"  # S1 or S2
    coded_only = _epic_record(cc(SCT, "21483005"))
    alone = assess_resources(coded_only, codes=codes, primary="bfm", as_of=AS_OF).assessment
    assert (alone.site_pattern, alone.schemes["bfm"].group) == ("isolated_extramedullary", "S1")
    risk = build_cards(result, app_url=None)[0]
    assert "a site written in text could not be read" in (risk.detail or "")


def test_a_negation_beside_several_sites_leaves_the_sites_unknown(codes: CodeSets) -> None:
    inputs = extract(_epic_record(cc(SCT, "21483005"), _text("bone marrow; testes normal")), codes)
    assert inputs.sites == frozenset({Site.CNS})
    assert inputs.sites_incomplete


def test_a_coded_site_is_not_marked_as_read_from_text(codes: CodeSets) -> None:
    inputs = extract(_epic_record(cc(SCT, "14016003"), _text("Bone marrow")), codes)
    assert inputs.sites == frozenset({Site.MARROW})
    assert inputs.sites_from_text == frozenset()


def test_codings_without_system_are_read_as_text(codes: CodeSets) -> None:
    inputs = extract(_epic_record({"coding": [{"display": "Bone Marrow"}]}), codes)
    assert inputs.sites == frozenset({Site.MARROW})


def test_site_synonyms_are_extensible_by_configuration(codes: CodeSets, tmp_path: Path) -> None:
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"sets": {}, "site_synonyms": {"marrow": ["bm"]}}))
    extended = load_codesets(local)
    assert extract(_epic_record(_text("BM")), extended).sites == frozenset({Site.MARROW})
    assert extract(_epic_record(_text("BM")), codes).sites is None


def test_a_synonym_for_an_unknown_site_is_refused(tmp_path: Path) -> None:
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"sets": {}, "site_synonyms": {"liver": ["hepatic"]}}))
    with pytest.raises(InvalidCodeSets, match="unknown sites"):
        load_codesets(local)


# --- Frontline CarePlans (phased treatment plans as oncology EHRs write them) -----------------


def _plan(rid: str, title: str, status: str, start: str | None, end: str | None) -> dict[str, Any]:
    period = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": rid,
        "status": status,
        "intent": "plan",
        "title": title,
        "category": [{"text": "Oncology treatment plan"}],
        "subject": {"reference": "Patient/p"},
    }
    if period:
        plan["period"] = period
    return plan


def _with_plans(*plans: dict[str, Any]) -> list[dict[str, Any]]:
    """Diagnosis 2018-03-10, marrow relapse 2021-06-15, B lineage, and these plans."""
    record = [r for r in _epic_record(cc(SCT, "14016003")) if r["resourceType"] != "CarePlan"]
    return [*record, *plans]


def _bfm_timing(resources: list[dict[str, Any]], codes: CodeSets) -> str:
    result = assess_resources(resources, codes=codes, primary="bfm", as_of=AS_OF)
    return result.assessment.timing.bfm


def test_relapse_in_maintenance_after_interim_maintenance_is_on_therapy(codes: CodeSets) -> None:
    resources = _with_plans(
        _plan("im2", "AALL1731 Interim Maintenance II", "completed", "2019-06-01", "2019-08-20"),
        _plan("mnt", "AALL1731 Maintenance", "active", "2019-09-01", None),
    )
    inputs = extract(resources, codes)
    assert (inputs.on_therapy, inputs.end_of_therapy) == (True, None)
    assert inputs.sources["on_therapy"] == ("CarePlan/mnt",)
    assert _bfm_timing(resources, codes) == "early"


@pytest.mark.parametrize(
    "title",
    [
        "Interim Maintenance II",
        "INTERIM  MAINTENANCE I",
        "Induction",
        "Consolidation",
        "Delayed Intensification",
        "Frontline therapy: delayed intensification",
    ],
)
def test_a_completed_phase_is_never_the_end_of_frontline(codes: CodeSets, title: str) -> None:
    resources = _with_plans(_plan("ph", title, "completed", "2019-06-01", "2019-08-20"))
    inputs = extract(resources, codes)
    assert inputs.end_of_therapy is None
    assert inputs.on_therapy is None
    assert _bfm_timing(resources, codes) == "indeterminate"  # never "late"


@pytest.mark.parametrize("title", ["Maintenance", "AALL1731 Frontline ALL therapy"])
def test_end_is_a_completed_maintenance_or_whole_frontline_plan(
    codes: CodeSets, title: str
) -> None:
    resources = _with_plans(
        _plan("im2", "Interim Maintenance II", "completed", "2019-06-01", "2019-08-20"),
        _plan("end", title, "completed", "2018-03-12", "2020-06-01"),
    )
    inputs = extract(resources, codes)
    assert (inputs.end_of_therapy, inputs.on_therapy) == (date(2020, 6, 1), False)
    assert inputs.sources["end_of_therapy"] == ("CarePlan/end",)


def test_an_active_plan_that_ended_before_the_relapse_is_not_on_therapy(codes: CodeSets) -> None:
    # Never closed in the EHR: still "active" two years after its period ended.
    resources = _with_plans(
        _plan("stale", "Frontline ALL therapy", "active", "2018-03-12", "2019-06-01")
    )
    inputs = extract(resources, codes)
    assert inputs.on_therapy is None
    assert any("CarePlan/stale: active but its period ended" in w for w in inputs.warnings)
    assert _bfm_timing(resources, codes) == "indeterminate"  # not "early"


@pytest.mark.parametrize("status", ["revoked", "completed", "on-hold", "active", "unknown"])
def test_a_plan_whose_period_covers_the_relapse_is_on_therapy(codes: CodeSets, status: str) -> None:
    # Revoked because of the relapse: it was running when the relapse came.
    resources = _with_plans(_plan("mnt", "Maintenance", status, "2019-09-01", "2021-07-01"))
    assert extract(resources, codes).on_therapy is True


@pytest.mark.parametrize("status", ["draft", "entered-in-error"])
def test_draft_and_entered_in_error_plans_are_not_read(codes: CodeSets, status: str) -> None:
    resources = _with_plans(_plan("mnt", "Maintenance", status, "2019-09-01", "2021-07-01"))
    assert extract(resources, codes).on_therapy is None


def test_a_relapse_plan_is_never_frontline(codes: CodeSets) -> None:
    resources = _with_plans(
        _plan("ri", "Relapse induction (ALL-REZ)", "active", None, None),
        _plan("mnt", "Maintenance", "completed", "2019-09-01", "2020-06-01"),
    )
    inputs = extract(resources, codes)
    assert (inputs.on_therapy, inputs.end_of_therapy) == (False, date(2020, 6, 1))


# --- Dates: local times written without a time zone (interface engines, HL7 v2 feeds) ---------


def test_a_datetime_without_time_zone_is_read_for_its_date(codes: CodeSets) -> None:
    resources = _epic_record(cc(SCT, "14016003"))
    resources[2]["onsetDateTime"] = "2021-06-15T23:30:00"  # late evening, local time
    resources[2]["recordedDate"] = "2021-06-16T00:10"
    inputs = extract(resources, codes)
    assert inputs.relapse_date == date(2021, 6, 15)
    assert inputs.sites == frozenset({Site.MARROW})
    assert "Condition/rel: a dateTime without a time zone was read for its date" in inputs.warnings
    assert not any("could not be read" in w for w in inputs.warnings)


def test_a_datetime_with_time_zone_gives_no_warning(codes: CodeSets) -> None:
    resources = _epic_record(cc(SCT, "14016003"))
    resources[2]["onsetDateTime"] = "2021-06-15T23:30:00-05:00"
    inputs = extract(resources, codes)
    assert inputs.relapse_date == date(2021, 6, 15)
    assert not any("time zone" in w for w in inputs.warnings)


# --- Episodes, verification status, refractory C91.00, prior HSCT -----------------------------

VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _oracle_recurrence(rid: str, onset: str, verification: str = "confirmed") -> dict[str, Any]:
    """An Oracle Health (Cerner) style problem: the ALL code with clinical status recurrence."""
    return {
        "resourceType": "Condition",
        "id": rid,
        "meta": {"versionId": "3", "lastUpdated": "2021-06-16T14:02:11.000Z"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "recurrence",
                    "display": "Recurrence",
                }
            ],
            "text": "Recurrence",
        },
        "verificationStatus": {"coding": [{"system": VER, "code": verification}]},
        "category": [
            cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")
        ],
        "code": {
            "coding": [
                {"system": SCT, "code": "91857003", "display": "Acute lymphoid leukemia"},
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.00"},
            ],
            "text": "Acute lymphoblastic leukemia",
        },
        "subject": {"reference": "Patient/p"},
        "onsetDateTime": f"{onset}T00:00:00.000Z",
        "bodySite": [cc(SCT, "14016003")],
    }


def _base() -> list[dict[str, Any]]:
    return [r for r in _epic_record() if r["resourceType"] != "Condition" or r["id"] == "dx"]


def test_oracle_recurrence_status_dates_the_relapse(codes: CodeSets) -> None:
    inputs = extract([*_base(), _oracle_recurrence("rec", "2021-06-15")], codes)
    assert (inputs.relapse_date, inputs.relapse_count) == (date(2021, 6, 15), 1)
    assert inputs.sites == frozenset({Site.MARROW})
    assert inputs.unconfirmed == ()


def test_relapse_conditions_within_90_days_are_one_relapse(codes: CodeSets) -> None:
    cns = _epic_relapse("rel-cns", "2021-08-20", cc(SCT, "21483005"))  # 66 days later
    resources = [*_base(), _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")), cns]
    inputs = extract(resources, codes)
    assert (inputs.relapse_count, inputs.relapse_dates) == (1, (date(2021, 6, 15),))
    assert inputs.sites == frozenset({Site.MARROW, Site.CNS})
    assert any("merged into one relapse" in w for w in inputs.warnings)


def test_a_relapse_condition_after_91_days_is_a_second_relapse(codes: CodeSets) -> None:
    later = _epic_relapse("rel-2", "2021-09-14", cc(SCT, "21483005"))  # 91 days later
    resources = [*_base(), _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")), later]
    inputs = extract(resources, codes)
    assert inputs.relapse_count == 2
    assert inputs.sites == frozenset({Site.MARROW})


def test_a_relapse_condition_after_reinduction_day0_is_not_merged(codes: CodeSets) -> None:
    reinduction = _plan("ri", "Relapse induction (ALL-REZ BFM)", "active", "2021-06-20", None)
    later = _epic_relapse("rel-2", "2021-08-01", cc(SCT, "21483005"))
    resources = [*_base(), _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")), later]
    assert extract([*resources, reinduction], codes).relapse_count == 2
    assert extract(resources, codes).relapse_count == 1


@pytest.mark.parametrize("status", ["unconfirmed", "provisional"])
def test_an_unconfirmed_relapse_counts_and_is_flagged(codes: CodeSets, status: str) -> None:
    resources = [*_base(), _oracle_recurrence("rec", "2021-06-15", status)]
    inputs = extract(resources, codes)
    assert (inputs.relapse_date, inputs.unconfirmed) == (date(2021, 6, 15), ("Condition/rec",))
    result = assess_resources(resources, codes=codes, primary="bfm", as_of=AS_OF)
    assert build_cards(result, app_url=None)[0].summary.startswith("Relapsed ALL (unconfirmed):")


def test_a_confirmed_condition_of_the_same_relapse_confirms_it(codes: CodeSets) -> None:
    resources = [
        *_base(),
        _oracle_recurrence("rec", "2021-06-15", "provisional"),
        _epic_relapse("rel", "2021-06-20", cc(SCT, "14016003")),
    ]
    assert extract(resources, codes).unconfirmed == ()


def test_a_differential_relapse_does_not_count(codes: CodeSets) -> None:
    inputs = extract([*_base(), _oracle_recurrence("rec", "2021-06-15", "differential")], codes)
    assert not inputs.relapsed
    assert "Condition/rec is a differential diagnosis of relapse: not counted" in inputs.warnings


def _not_in_remission(onset: str) -> dict[str, Any]:
    c = _epic_relapse("nir", onset)
    c["code"]["coding"] = [{"system": EPIC_ICD, "code": "C91.00"}]
    del c["bodySite"]
    return c


@pytest.mark.parametrize(("onset", "refractory"), [("2021-07-19", False), ("2021-07-20", True)])
def test_c91_00_is_refractory_only_35_days_after_relapse(
    codes: CodeSets, onset: str, refractory: bool
) -> None:
    resources = [*_epic_record(cc(SCT, "14016003")), _not_in_remission(onset)]
    assert extract(resources, codes).refractory is refractory


@pytest.mark.parametrize(("onset", "refractory"), [("2021-07-18", False), ("2021-07-19", True)])
def test_c91_00_is_refractory_only_after_reinduction_day_28(
    codes: CodeSets, onset: str, refractory: bool
) -> None:
    day0 = _plan("ri", "Reinduction", "active", "2021-06-20", None)  # day 28 = 2021-07-18
    resources = [*_epic_record(cc(SCT, "14016003")), day0, _not_in_remission(onset)]
    assert extract(resources, codes).refractory is refractory


def _hsct(status: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": "hsct",
        "status": status,
        "code": cc(SCT, "234336002"),
        "subject": {"reference": "Patient/p"},
        "performedDateTime": "2020-01-10",
    }


@pytest.mark.parametrize(
    ("status", "prior"),
    [("completed", True), ("in-progress", False), ("preparation", False), ("stopped", False)],
)
def test_prior_hsct_only_from_a_completed_procedure(
    codes: CodeSets, status: str, prior: bool
) -> None:
    inputs = extract([*_epic_record(cc(SCT, "14016003")), _hsct(status)], codes)
    assert inputs.prior_hsct is prior
    assert any("not completed" in w for w in inputs.warnings) is not prior


def test_a_resource_that_does_not_stand_is_named(codes: CodeSets) -> None:
    withdrawn = _epic_relapse("rel-eie", "2020-01-01", cc(SCT, "21483005"))
    withdrawn["verificationStatus"] = cc(VER, "entered-in-error")
    inputs = extract([*_epic_record(cc(SCT, "14016003")), withdrawn], codes)
    assert inputs.relapse_date == date(2021, 6, 15)
    assert "Condition/rel-eie does not stand (verification status): ignored" in inputs.warnings


def test_a_local_site_code_is_read_by_its_text_never_as_other(codes: CodeSets) -> None:
    # Epic sends its own code list beside the text: its meaning is not known, the text is.
    local = "urn:oid:1.2.840.114350.1.13.0.1.7.4.698084.10042"
    marrow = {"coding": [{"system": local, "code": "12", "display": "Bone Marrow"}]}
    inputs = extract(_epic_record(marrow), codes)
    assert inputs.sites == inputs.sites_from_text == frozenset({Site.MARROW})
    unknown = {"coding": [{"system": local, "code": "40"}], "text": "L orbit"}
    assert extract(_epic_record(unknown), codes).sites_incomplete


def test_another_snomed_site_is_other(codes: CodeSets) -> None:
    inputs = extract(_epic_record({**cc(SCT, "71854001"), "text": "Colon"}), codes)
    assert inputs.sites == frozenset({Site.OTHER})
    assert not inputs.sites_incomplete


def test_conditions_of_the_relapse_day_stay_one_relapse_when_reinduction_starts(
    codes: CodeSets,
) -> None:
    reinduction = _plan("ri", "Reinduction", "active", "2021-06-15", None)
    resources = [
        *_base(),
        _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")),
        _oracle_recurrence("rec", "2021-06-15"),
        reinduction,
    ]
    inputs = extract(resources, codes)
    assert (inputs.relapse_count, inputs.relapse_dates) == (1, (date(2021, 6, 15),))


def test_a_coded_reinduction_start_procedure_gives_day0(codes: CodeSets) -> None:
    start = {
        "resourceType": "Procedure",
        "id": "d0",
        "status": "completed",
        "code": cc("urn:relapse-all-cds:concept", "reinduction-start"),
        "subject": {"reference": "Patient/p"},
        "performedDateTime": "2021-06-20",
    }
    later = _epic_relapse("rel-2", "2021-08-01", cc(SCT, "21483005"))
    resources = [*_base(), _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")), later]
    assert extract([*resources, start], codes).relapse_count == 2
    assert extract([*resources, start | {"status": "not-done"}], codes).relapse_count == 1


# Day 0 dated only by a reinduction drug given, or by a coded Observation: the episodes and
# refractoriness read the same day 0 as the order checks (one rule, fhir-contract "Reinduction").
_DAY0_ONLY = {
    "idarubicin given": {
        "resourceType": "MedicationAdministration",
        "id": "ida",
        "status": "completed",
        "medicationCodeableConcept": cc("http://www.nlm.nih.gov/research/umls/rxnorm", "5650"),
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2021-06-20",
    },
    "coded observation": {
        "resourceType": "Observation",
        "id": "d0",
        "status": "final",
        "code": cc("urn:relapse-all-cds:concept", "reinduction-start"),
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2021-06-20",
    },
}


@pytest.mark.parametrize("kind", list(_DAY0_ONLY))
def test_a_relapse_51_days_after_a_day0_not_from_a_plan_is_a_second_relapse(
    codes: CodeSets, kind: str
) -> None:
    later = _epic_relapse("rel-2", "2021-08-10", cc(SCT, "21483005"))  # day 51, relapse + 56
    resources = [*_base(), _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")), later]
    inputs = extract([*resources, _DAY0_ONLY[kind]], codes)
    assert inputs.relapse_dates == (date(2021, 6, 15), date(2021, 8, 10))
    assert extract(resources, codes).relapse_count == 1  # day 0 unknown: one episode
    found = assess_resources(
        [*resources, _DAY0_ONLY[kind]], codes=codes, primary="bfm", as_of=AS_OF
    )
    assert "PATH-1" in found.assessment.pathway.rules  # a second relapse


@pytest.mark.parametrize("kind", list(_DAY0_ONLY))
def test_c91_00_on_day_29_of_a_day0_not_from_a_plan_is_refractory(
    codes: CodeSets, kind: str
) -> None:
    # Day 29 is only 34 days after the relapse: refractory because day 0 is known.
    resources = [*_epic_record(cc(SCT, "14016003")), _not_in_remission("2021-07-19")]
    assert extract([*resources, _DAY0_ONLY[kind]], codes).refractory
    assert not extract(
        [*resources, _DAY0_ONLY[kind] | {"status": "entered-in-error"}], codes
    ).refractory


def test_the_order_checks_read_the_day0_the_extract_read(codes: CodeSets) -> None:
    resources = [*_epic_record(cc(SCT, "14016003")), _DAY0_ONLY["idarubicin given"]]
    inputs = extract(resources, codes)
    record = read_record(resources, codes, patient_id="p", inputs=inputs)
    assert reinduction_day0(record) == Day0(
        date(2021, 6, 20), "MedicationAdministration/ida", "drug"
    )
    # Not read a second time: what the extract did not find, the order checks do not either.
    bare = read_record(resources, codes, patient_id="p", inputs=replace(inputs, day0_candidates=()))
    assert reinduction_day0(bare) is None


def test_another_patients_drug_dates_no_day0_for_the_order_checks(codes: CodeSets) -> None:
    # No Patient in the resources: the extract cannot tell whose a resource is, the hook can.
    resources = [r for r in _epic_record(cc(SCT, "14016003")) if r["resourceType"] != "Patient"]
    other = _DAY0_ONLY["idarubicin given"] | {"subject": {"reference": "Patient/q"}}
    record = read_record([*resources, other], codes, patient_id="p")
    assert record.relapse_count == 1
    assert reinduction_day0(record) is None


def test_a_reinduction_drug_long_after_the_relapse_dates_no_day0(codes: CodeSets) -> None:
    late = _DAY0_ONLY["idarubicin given"] | {"effectiveDateTime": "2021-07-07"}  # relapse + 22
    later = _epic_relapse("rel-2", "2021-08-10", cc(SCT, "21483005"))
    resources = [*_base(), _epic_relapse("rel", "2021-06-15", cc(SCT, "14016003")), later, late]
    assert extract(resources, codes).relapse_count == 1


def test_an_undated_provisional_relapse_is_flagged(codes: CodeSets) -> None:
    undated = _oracle_recurrence("rec", "2021-06-15", "provisional")
    del undated["onsetDateTime"]
    inputs = extract([*_base(), undated], codes)
    assert (inputs.relapsed, inputs.relapse_date) == (True, None)
    assert inputs.unconfirmed == ("Condition/rec",)


def test_a_phase_named_in_the_category_is_a_phase(codes: CodeSets) -> None:
    plan = _plan("im", "Interim Maintenance II", "completed", "2019-06-01", "2019-08-20")
    plan["category"] = [{"text": "Maintenance chemotherapy"}]
    assert extract(_with_plans(plan), codes).end_of_therapy is None


def test_a_local_site_code_without_text_is_an_unknown_site(codes: CodeSets) -> None:
    local = {
        "coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.4.698084.10042", "code": "12"}]
    }
    inputs = extract(_epic_record(cc(SCT, "21483005"), local), codes)
    assert (inputs.sites, inputs.sites_incomplete) == (frozenset({Site.CNS}), True)


def test_an_open_induction_plan_left_active_is_not_on_therapy(codes: CodeSets) -> None:
    plan = _plan("ind", "AALL1731 Induction", "active", "2018-03-12", None)
    assert extract(_with_plans(plan), codes).on_therapy is None
    maintenance = _plan("mnt", "AALL1731 Maintenance", "active", "2019-09-01", None)
    assert extract(_with_plans(plan, maintenance), codes).on_therapy is True


@pytest.mark.parametrize("written", [("9811/3", "9837/3"), ("9837/3", "9811/3")])
def test_codes_of_one_condition_that_disagree_on_lineage_are_a_conflict_in_any_order(
    codes: CodeSets, written: tuple[str, str]
) -> None:
    # As two Conditions that disagree: unknown and named, never the coding written first.
    dx = diagnosis("2018-03-10", *((O3, code) for code in written))
    inputs = extract([patient(), dx, relapse("rel", "2021-06-15", "14016003")], codes)
    assert inputs.lineage is None
    assert "lineage unknown: conflicting coded lineages in Condition/dx" in inputs.warnings


def test_a_withdrawn_blood_count_is_named(codes: CodeSets) -> None:
    # Contract, "Only resources that stand": ignored, and named in the warnings.
    count = observation(
        "anc", cc(LOINC, "751-8"), "2021-07-01", valueQuantity={"value": 300, "code": "/uL"}
    )
    count["status"] = "entered-in-error"
    inputs = extract(
        [patient(), diagnosis(), relapse("rel", "2021-06-15", "14016003"), count], codes
    )
    assert "Observation/anc does not stand (entered-in-error): ignored" in inputs.warnings


@pytest.mark.parametrize(
    ("concept", "when", "read"),
    [
        ("end-of-frontline-therapy", "2020-03-01", lambda i: i.end_of_therapy),
        ("reinduction-start", "2021-06-20", lambda i: i.day0_candidates or None),
    ],
)
def test_a_cancelled_procedure_is_named_and_not_read(
    codes: CodeSets, concept: str, when: str, read: Callable[[RelapseInputs], object]
) -> None:
    cancelled = procedure("proc", concept, when, status="cancelled")
    inputs = extract(
        [patient(), diagnosis(), relapse("rel", "2021-06-15", "14016003"), cancelled], codes
    )
    assert read(inputs) is None
    assert "Procedure/proc does not stand (cancelled): ignored" in inputs.warnings
