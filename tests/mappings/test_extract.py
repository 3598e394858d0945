"""extract() and resources_from_bundle(): date rules, relapse patterns, lineage, warnings."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.errors import InvalidBundle
from mappings.extract import extract, resources_from_bundle
from service.domain.inputs import HIGH_RISK_MARKERS, Lineage, MarkerStatus, Site
from service.domain.thresholds import Comparator
from tests.conftest import FIXTURES, MCODE_EXAMPLE
from tests.mappings.builders import (
    CLIN,
    CM,
    LOINC,
    O3,
    OWN,
    SCT,
    SUBJECT,
    cc,
    condition,
    diagnosis,
    genomic,
    late_marrow_relapse,
    mrd,
    observation,
    patient,
    relapse,
)

RELAPSE = date(2021, 6, 15)


def _on(days: int) -> str:
    return date.fromordinal(RELAPSE.toordinal() + days).isoformat()


@pytest.mark.parametrize(
    ("day", "used"), [(0, False), (20, False), (21, True), (40, True), (60, True), (61, False)]
)
def test_post_induction_mrd_window(codes: CodeSets, day: int, used: bool) -> None:
    resources = [*late_marrow_relapse(), mrd("m", _on(day), valueString="0.05%")]
    inputs = extract(resources, codes)
    assert (inputs.mrd is not None) is used
    assert len(inputs.mrd_series) == 1
    if used:
        assert inputs.sources["mrd"] == ("Observation/m",)


def test_first_mrd_in_the_window_wins_and_series_is_ordered(codes: CodeSets) -> None:
    resources = [
        *late_marrow_relapse(),
        mrd("late", _on(50), valueString="0.5%"),
        mrd("first", _on(30), valueString="<0.01%"),
        mrd("at-relapse", _on(0), valueString="20%"),
    ]
    inputs = extract(resources, codes)
    assert inputs.mrd is not None
    assert (inputs.mrd.source, inputs.mrd.comparator) == ("Observation/first", Comparator.LT)
    assert [m.source for m in inputs.mrd_series] == [
        "Observation/at-relapse",
        "Observation/first",
        "Observation/late",
    ]


@pytest.mark.parametrize(
    ("site", "marrow"), [("14016003", True), ("65216001", False), ("87612001", False)]
)
def test_mrd_must_be_marrow_when_a_site_is_given(codes: CodeSets, site: str, marrow: bool) -> None:
    resources = [
        *late_marrow_relapse(),
        mrd("m", _on(30), valueString="1%", bodySite=cc(SCT, site)),
    ]
    assert (extract(resources, codes).mrd is not None) is marrow


def test_mrd_specimen_resource_decides_marrow(codes: CodeSets) -> None:
    specimen = {
        "resourceType": "Specimen",
        "id": "s",
        "type": cc(SCT, "65216001"),
        "subject": SUBJECT,
    }
    m = mrd("m", _on(30), valueString="1%", specimen={"reference": "Specimen/s"})
    assert extract([*late_marrow_relapse(), specimen, m], codes).mrd is None
    assert extract([*late_marrow_relapse(), m], codes).mrd is not None


@pytest.mark.parametrize(("day", "used"), [(-15, False), (-14, True), (14, True), (15, False)])
def test_blasts_within_14_days(codes: CodeSets, day: int, used: bool) -> None:
    blasts = observation("b", cc(OWN, "marrow-blasts"), _on(day), valueString="40%")
    inputs = extract([*late_marrow_relapse(), blasts], codes)
    assert inputs.marrow_blasts == (40.0 if used else None)


def test_blasts_closest_to_the_relapse(codes: CodeSets) -> None:
    far = observation("far", cc(OWN, "marrow-blasts"), _on(-10), valueString="80%")
    near = observation("near", cc(OWN, "marrow-blasts"), _on(2), valueString="12%")
    inputs = extract([*late_marrow_relapse(), far, near], codes)
    assert inputs.marrow_blasts == 12.0
    assert inputs.sources["marrow_blasts"] == ("Observation/near",)


@pytest.mark.parametrize(
    ("onset", "expected"),
    [
        ({"onsetDateTime": "2018-03-10T23:30:00-06:00"}, date(2018, 3, 10)),
        ({"onsetPeriod": {"start": "2018-03-11"}}, date(2018, 3, 11)),
        ({"recordedDate": "2018-03-12"}, date(2018, 3, 12)),
        ({"onsetDateTime": "2018-03"}, None),
    ],
)
def test_diagnosis_date_rules(
    codes: CodeSets, onset: dict[str, Any], expected: date | None
) -> None:
    dx = condition("dx", (SCT, "277571004"), **onset)
    inputs = extract([patient(), dx], codes)
    assert inputs.has_all
    assert inputs.diagnosis_date == expected


def test_diagnosis_is_the_earliest_non_relapse_condition(codes: CodeSets) -> None:
    resources = [
        patient(),
        condition("later", (CM, "C91.00"), onsetDateTime="2018-04-01"),
        diagnosis("2018-03-10"),
        relapse("rel", "2021-06-15", "14016003", "21483005"),
    ]
    inputs = extract(resources, codes)
    assert inputs.diagnosis_date == date(2018, 3, 10)
    assert inputs.sources["diagnosis_date"] == ("Condition/dx",)
    assert (inputs.relapsed, inputs.relapse_date, inputs.relapse_count) == (True, RELAPSE, 1)
    assert inputs.sites == frozenset({Site.MARROW, Site.CNS})
    assert inputs.sources["sites"] == ("Condition/rel",)


def test_pattern_1_by_clinical_status(codes: CodeSets) -> None:
    rel = condition(
        "rel",
        (SCT, "91857003"),
        clinicalStatus=cc(CLIN, "recurrence"),
        onsetDateTime="2021-06-15",
        bodySite=[cc(SCT, "40689003"), cc(SCT, "12345")],
    )
    inputs = extract([patient(), diagnosis(), rel], codes)
    assert inputs.relapse_date == RELAPSE
    assert inputs.sites == frozenset({Site.TESTIS, Site.OTHER})


def test_pattern_2_undated_relapse_warns(codes: CodeSets) -> None:
    dx = condition(
        "dx", (SCT, "277571004"), clinicalStatus=cc(CLIN, "relapse"), onsetDateTime="2018-03-10"
    )
    inputs = extract([patient(), dx], codes)
    assert inputs.relapsed
    assert inputs.relapse_date is None
    assert inputs.relapse_count == 1
    assert inputs.diagnosis_date == date(2018, 3, 10)
    assert any("without a relapse date" in w and "Condition/dx" in w for w in inputs.warnings)


def test_pattern_3_relapse_count_from_distinct_dates(codes: CodeSets) -> None:
    resources = [
        patient(),
        diagnosis(),
        relapse("r2", "2022-08-01", "14016003"),
        relapse("r1", "2020-06-20", "21483005"),
        condition(
            "r1-status",
            (SCT, "277571004"),
            clinicalStatus=cc(CLIN, "relapse"),
            onsetDateTime="2020-06-20",
        ),
    ]
    inputs = extract(resources, codes)
    assert inputs.relapse_count == 2
    assert inputs.relapse_dates == (date(2020, 6, 20), date(2022, 8, 1))
    assert inputs.relapse_date == date(2020, 6, 20)
    assert inputs.sites == frozenset({Site.CNS})  # the first relapse drives


def test_relapse_code_dated_before_diagnosis_is_ignored(codes: CodeSets) -> None:
    inputs = extract([patient(), diagnosis(), relapse("odd", "2017-01-01")], codes)
    assert inputs.relapse_date is None
    assert any("Condition/odd records a relapse on or before" in w for w in inputs.warnings)


@pytest.mark.parametrize(
    ("resources", "lineage"),
    [
        ([diagnosis("2018-03-10", (SCT, "277571004"), (O3, "9837/3"))], Lineage.T),
        ([diagnosis("2018-03-10", (CM, "C91.00"), (O3, "9806/3"))], Lineage.MPAL),
        ([diagnosis("2018-03-10", (CM, "C91.00"), (O3, "9811/3"))], Lineage.B),
        ([diagnosis("2018-03-10", (CM, "C91.00"), (SCT, "278453007"))], Lineage.MPAL),
        ([diagnosis("2018-03-10", (CM, "C91.00"), (OWN, "lineage-t"))], Lineage.T),
        (
            [
                diagnosis("2018-03-10", (CM, "C91.00")),
                observation(
                    "ip",
                    cc(LOINC, "101119-6"),
                    "2018-03-11",
                    valueCodeableConcept=cc(OWN, "lineage-t"),
                ),
            ],
            Lineage.T,
        ),
        (
            [
                condition(
                    "dx",
                    (SCT, "91857003"),
                    onsetDateTime="2018-03-10",
                    extension=[
                        {
                            "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/"
                            "mcode-histology-morphology-behavior",
                            "valueCodeableConcept": cc(O3, "9837/3"),
                        }
                    ],
                )
            ],
            Lineage.T,
        ),
    ],
)
def test_lineage(codes: CodeSets, resources: list[dict[str, Any]], lineage: Lineage) -> None:
    assert extract([patient(), *resources], codes).lineage is lineage


def test_lineage_unknown_is_a_warning_never_a_guess(codes: CodeSets) -> None:
    ip = observation("ip", cc(LOINC, "101119-6"), "2018-03-11", valueString="T-cell markers CD3+")
    inputs = extract([patient(), diagnosis("2018-03-10", (CM, "C91.00")), ip], codes)
    assert inputs.lineage is None
    assert any(w.startswith("lineage unknown") for w in inputs.warnings)


def test_icd_o_3_wins_over_snomed(codes: CodeSets) -> None:
    dx = diagnosis("2018-03-10", (SCT, "277571004"), (O3, "9808/3"))
    assert extract([patient(), dx], codes).lineage is Lineage.MPAL


def test_genetics_evaluated_and_coverage(codes: CodeSets) -> None:
    karyotype = observation("k", cc(LOINC, "62356-1"), "2018-03-12", valueString="46,XY[20]")
    tp53 = genomic("g", ["HGNC:11998"], "LA9634-2")
    g = extract([*late_marrow_relapse(), karyotype, tp53], codes).genetics
    assert g.evaluated
    assert g.status("TP53") is MarkerStatus.ABSENT
    assert g.status("BCR-ABL1") is MarkerStatus.ABSENT
    assert "TP53" in g.explicit
    assert "hypodiploidy" in g.explicit
    assert "BCR-ABL1" not in g.explicit


def test_genetics_not_tested_without_results(codes: CodeSets) -> None:
    g = extract(late_marrow_relapse(), codes).genetics
    assert not g.evaluated
    assert g.status("TP53") is MarkerStatus.NOT_TESTED


def test_unreadable_karyotype_does_not_make_genetics_evaluated(codes: CodeSets) -> None:
    karyotype = observation("k", cc(LOINC, "62356-1"), "2018-03-12", valueString="see report")
    inputs = extract([*late_marrow_relapse(), karyotype], codes)
    assert not inputs.genetics.evaluated
    assert "Observation/k: karyotype not understood (ISCN expected)" in inputs.warnings


def test_present_wins_over_absent(codes: CodeSets) -> None:
    resources = [
        *late_marrow_relapse(),
        genomic("a", ["HGNC:1014", "HGNC:76"], "LA9634-2"),
        observation(
            "k", cc(LOINC, "62356-1"), "2018-03-12", valueString="46,XY,t(9;22)(q34;q11)[20]"
        ),
    ]
    assert extract(resources, codes).genetics.status("BCR-ABL1") is MarkerStatus.PRESENT


def _eot_observation(when: str) -> dict[str, Any]:
    return observation("eot", cc(OWN, "end-of-frontline-therapy"), when, valueBoolean=True)


def _plan(
    rid: str, status: str, start: str, end: str | None = None, title: str = ""
) -> dict[str, Any]:
    period = {"start": start} | ({"end": end} if end else {})
    return {
        "resourceType": "CarePlan",
        "id": rid,
        "status": status,
        "intent": "plan",
        "subject": SUBJECT,
        "title": title,
        "period": period,
    }


def test_end_of_therapy_from_coded_event_before_careplan(codes: CodeSets) -> None:
    plan = _plan("cp", "completed", "2018-03-10", "2020-05-01", "Frontline therapy")
    inputs = extract([*late_marrow_relapse(), plan, _eot_observation("2020-03-01")], codes)
    assert inputs.end_of_therapy == date(2020, 3, 1)
    assert inputs.on_therapy is False
    assert inputs.sources["end_of_therapy"] == ("Observation/eot",)


def test_end_of_therapy_from_completed_maintenance_careplan(codes: CodeSets) -> None:
    plans = [
        _plan("ind", "completed", "2018-03-10", "2018-05-01", "Induction"),
        _plan("mnt", "completed", "2018-09-01", "2020-03-01", "Maintenance therapy"),
        _plan("relapse-mnt", "completed", "2021-07-01", "2021-12-01", "Relapse maintenance"),
    ]
    inputs = extract([*late_marrow_relapse(), *plans], codes)
    assert inputs.end_of_therapy == date(2020, 3, 1)
    assert inputs.sources["end_of_therapy"] == ("CarePlan/mnt",)


def test_on_therapy_when_frontline_careplan_is_active(codes: CodeSets) -> None:
    plan = _plan("cp", "active", "2018-03-10", title="ALL frontline protocol")
    inputs = extract([*late_marrow_relapse(), plan], codes)
    assert inputs.on_therapy is True
    assert inputs.end_of_therapy is None


def test_end_of_therapy_unknown_is_a_warning(codes: CodeSets) -> None:
    inputs = extract(late_marrow_relapse(), codes)
    assert (inputs.end_of_therapy, inputs.on_therapy) == (None, None)
    assert "end of frontline therapy not documented" in inputs.warnings


def _hsct(rid: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": "completed",
        "subject": SUBJECT,
        "code": cc(SCT, "234336002"),
        "performedDateTime": when,
    }


@pytest.mark.parametrize(("when", "prior"), [("2019-01-10", True), ("2021-09-01", False)])
def test_prior_hsct_only_before_the_relapse(codes: CodeSets, when: str, prior: bool) -> None:
    inputs = extract([*late_marrow_relapse(), _hsct("h", when)], codes)
    assert inputs.prior_hsct is prior
    assert inputs.hsct_dates == (date.fromisoformat(when),)


def test_hsct_status_condition(codes: CodeSets) -> None:
    z = condition("z", (CM, "Z94.84"), recordedDate="2019-02-01")
    assert extract([*late_marrow_relapse(), z], codes).prior_hsct


@pytest.mark.parametrize(
    ("resource", "refractory"),
    [
        (condition("r", (OWN, "refractory-disease")), True),
        (observation("r", cc(OWN, "refractory-disease"), "2021-08-01", valueBoolean=True), True),
        (observation("r", cc(OWN, "refractory-disease"), "2021-08-01", valueBoolean=False), False),
        (condition("r", (CM, "C91.00"), onsetDateTime="2021-08-01"), True),
        (condition("r", (CM, "C91.00"), onsetDateTime="2021-06-15"), False),
    ],
)
def test_refractory(codes: CodeSets, resource: dict[str, Any], refractory: bool) -> None:
    assert extract([*late_marrow_relapse(), resource], codes).refractory is refractory


def test_invalid_resources_are_skipped_and_named(codes: CodeSets) -> None:
    resources = [
        *late_marrow_relapse(),
        mrd("bad", _on(30), valueQuantity={"value": "abc", "unit": "%"}),
        mrd("empty", _on(31)),
        {"resourceType": "Condition", "id": "nocode", "subject": SUBJECT},
        condition("bad-date", (CM, "C91.02"), onsetDateTime="2021-13-45"),
        "not a resource",
        observation("hb", cc(LOINC, "718-7"), "2021-06-15", valueQuantity={"value": "x"}),
    ]
    inputs = extract(resources, codes)  # type: ignore[arg-type]
    assert (
        "Observation/bad could not be read: invalid field 'valueQuantity.value'" in inputs.warnings
    )
    assert "Observation/empty: MRD without a value" in inputs.warnings
    assert any(w.startswith("Condition/bad-date could not be read") for w in inputs.warnings)
    assert not any("Observation/hb" in w for w in inputs.warnings)  # not read, so not validated
    assert inputs.relapse_date == RELAPSE


def test_warnings_carry_no_values_or_names(codes: CodeSets) -> None:
    p = patient() | {"name": [{"family": "Zyxwv"}]}
    resources = [p, diagnosis(), mrd("m", _on(30), valueString="0.1234 cells")]
    text = " ".join(extract(resources, codes).warnings)
    assert "Zyxwv" not in text
    assert "0.1234" not in text


def test_resources_from_bundle() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient()}]}
    assert resources_from_bundle(bundle) == [patient()]


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ({"resourceType": "Patient"}, "expected a FHIR Bundle"),
        ([], "expected a FHIR Bundle"),
        ({"resourceType": "Bundle", "entry": []}, "holds no Patient"),
        (
            {"resourceType": "Bundle", "entry": [{"resource": patient()}, {"resource": patient()}]},
            "holds 2 Patients",
        ),
    ],
)
def test_resources_from_bundle_refuses(bundle: Any, message: str) -> None:
    with pytest.raises(InvalidBundle, match=message):
        resources_from_bundle(bundle)


def test_mcode_example(codes: CodeSets) -> None:
    bundle = json.loads(MCODE_EXAMPLE.read_text())
    inputs = extract(resources_from_bundle(bundle), codes)
    assert inputs.has_all
    assert inputs.lineage is Lineage.B
    assert not inputs.relapsed
    assert inputs.diagnosis_date == date(2025, 3, 14)
    assert inputs.genetics.evaluated
    assert inputs.genetics.present() == ("ETV6-RUNX1",)
    assert inputs.mrd is None
    assert inputs.mrd_series == ()
    assert inputs.marrow_blasts is None


_EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
_INPUT_KEYS = {
    "lineage",
    "relapse_count",
    "relapsed",
    "prior_hsct",
    "refractory",
    "marrow_blasts",
}


@pytest.mark.parametrize("name", sorted(_EXPECTED))
def test_fixture_inputs(codes: CodeSets, name: str) -> None:
    expected = _EXPECTED[name]
    inputs = extract(
        resources_from_bundle(json.loads((FIXTURES / f"{name}.json").read_text())), codes
    )
    assert inputs.has_all
    for key in _INPUT_KEYS & expected.keys():
        got = getattr(inputs, key)
        assert (got.value if isinstance(got, Lineage) else got) == expected[key], key
    if "mrd" in expected:
        if expected["mrd"] is None:
            assert inputs.mrd is None
        else:
            assert inputs.mrd is not None
            assert [inputs.mrd.value, inputs.mrd.comparator.value] == pytest.approx(expected["mrd"])
    if "high_risk" in expected:
        assert list(inputs.genetics.present(HIGH_RISK_MARKERS)) == expected["high_risk"]
    if "present" in expected:
        assert list(inputs.genetics.present()) == expected["present"]
    if "genetics_status" in expected:
        assert expected["genetics_status"] == "not_tested"
        assert not inputs.genetics.evaluated
    if "relapse_date" in expected:
        assert inputs.relapse_date == expected["relapse_date"]
    for fragment in expected.get("warnings_contain", []):
        assert any(fragment in w for w in inputs.warnings), fragment


@pytest.mark.parametrize(
    "reference", ["Patient/other", "https://ehr.example/fhir/Patient/other/_history/2"]
)
def test_another_patients_resource_is_ignored_and_named(codes: CodeSets, reference: str) -> None:
    foreign = mrd("foreign", _on(30), valueString="5%") | {"subject": {"reference": reference}}
    inputs = extract([*late_marrow_relapse(), foreign], codes)
    assert inputs.mrd is None
    assert inputs.mrd_series == ()
    assert "Observation/foreign does not refer to this patient and was ignored" in inputs.warnings


def test_own_resources_by_absolute_reference_are_kept(codes: CodeSets) -> None:
    own = mrd("own", _on(30), valueString="0.5%") | {
        "subject": {"reference": "https://ehr.example/fhir/Patient/p"}
    }
    assert extract([*late_marrow_relapse(), own], codes).mrd is not None


def test_the_check_is_called_every_few_hundred_resources_and_may_stop_the_work(
    codes: CodeSets,
) -> None:
    resources = [{"resourceType": "Patient", "id": "p"}] + [
        {"resourceType": "Basic", "id": str(n)} for n in range(999)
    ]
    calls: list[int] = []
    extract(resources, codes, check=lambda: calls.append(1))
    assert len(calls) == 4  # resources 0, 256, 512, 768

    def stop() -> None:
        if calls:
            raise TimeoutError("deadline")
        calls.append(1)

    calls.clear()
    with pytest.raises(TimeoutError):
        extract(resources, codes, check=stop)


def test_refractory_evidence_keeps_its_latest_date(codes: CodeSets) -> None:
    # A CR on day 28 decides only over refractory codes it follows (service.domain.assess).
    record = resources_from_bundle(
        json.loads((FIXTURES / "refractory.json").read_text(encoding="utf-8"))
    )
    inputs = extract(record, codes)
    assert inputs.refractory
    assert inputs.sources["refractory"] == ("Condition/rel-refractory-cond-5",)
    assert inputs.refractory_latest == date(2020, 7, 30)
