"""Property (issue 12), the harder copies: an entered-in-error copy that keeps the original's id
(a Specimen, an MRD), comes before or after it, or says something else (another MRD, a BCR::ABL1
fusion, a CNS site, a blood specimen) never changes the assessment. test_standing.py covers
copies with new ids and shifted dates."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data import AS_OF, CORE, synthetic_record
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service.engine import assess_resources
from tests.conftest import FIXTURES, MCODE_EXAMPLE
from tests.mappings.builders import cc, genomic, late_marrow_relapse, mrd, observation

CODES = load_codesets(None)
LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
SCT = "http://snomed.info/sct"
# Bundles of our own: the test fixtures (every one a full record) and the mCODE-shaped example.
BUNDLES = sorted(p for p in FIXTURES.glob("*.json") if p.name != "expected.json")
# ...and a marrow MRD whose Specimen says marrow, with a karyotype and a genomic result.
SPECIMEN_RECORD = [
    *late_marrow_relapse(),
    {
        "resourceType": "Specimen",
        "id": "bm",
        "status": "available",
        "subject": {"reference": "Patient/p"},
        "type": {"coding": [{"system": SCT, "code": "119359002"}]},
    },
    mrd("m", "2021-07-20", valueString="0.02%", specimen={"reference": "Specimen/bm"}),
    observation("k", cc(LOINC, "62356-1"), "2018-03-12", valueString="46,XX[20]"),
    genomic("g", ["HGNC:11998"], "LA9634-2"),
]
RECORDS = [
    *(
        resources_from_bundle(json.loads(p.read_text(encoding="utf-8")))
        for p in [*BUNDLES, MCODE_EXAMPLE]
    ),
    SPECIMEN_RECORD,
]
# What an entered-in-error copy may say instead of the original.
CHANGES: list[dict[str, Any]] = [
    {},
    {"valueString": "12%"},
    {"valueString": "46,XY,t(9;22)(q34;q11.2)[20]"},
    {"valueQuantity": {"value": 5, "unit": "%", "code": "%"}},
    {
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                "valueCodeableConcept": {"coding": [{"system": HGNC, "code": g}]},
            }
            for g in ("BCR", "ABL1")
        ],
    },
    {"bodySite": [{"coding": [{"system": SCT, "code": "21483005"}]}]},
    {"onsetDateTime": "2019-01-02", "effectiveDateTime": "2019-01-02"},
    {"period": {"start": "2015-01-01", "end": "2016-01-01"}},
    {"type": {"coding": [{"system": SCT, "code": "119297000"}]}},
]


def _entered_in_error(resource: dict[str, Any], new_id: str | None, change: dict[str, Any]) -> Any:
    r = copy.deepcopy(resource) | copy.deepcopy(change)
    if new_id is not None:
        r["id"] = new_id
    if r["resourceType"] == "Condition":
        r["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "entered-in-error",
                }
            ]
        }
    else:
        r["status"] = "entered-in-error"
    return r


def _assessment(resources: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = assess_resources(
        resources, codes=CODES, primary="inpog", as_of=AS_OF
    ).assessment.to_json()
    # What was ignored is named (warnings) or counted (ignored), and not part of the answer.
    del found["warnings"], found["ignored"]
    return found


records = (
    st.sampled_from(RECORDS)
    | st.just(SPECIMEN_RECORD)
    | st.builds(
        synthetic_record,
        st.integers(min_value=CORE, max_value=20),
        mrd_percent=st.none() | st.floats(min_value=0.0, max_value=100.0),
        mrd_days_after_relapse=st.integers(min_value=0, max_value=90),
    )
)


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    resources=records,
    same_id=st.booleans(),
    change=st.sampled_from(CHANGES),
    first=st.booleans(),
)
def test_an_entered_in_error_copy_never_changes_the_assessment(
    data: st.DataObject,
    resources: list[dict[str, Any]],
    same_id: bool,
    change: dict[str, Any],
    first: bool,
) -> None:
    # Every resource type that can be entered in error (a Patient cannot).
    candidates = [r for r in resources if r.get("resourceType") != "Patient"]
    original = data.draw(st.sampled_from(candidates))
    eie = _entered_in_error(original, None if same_id else "eie-copy", change)
    # Before or after the original: neither order lets it through.
    with_copy = [eie, *resources] if first else [*resources, eie]
    assert _assessment(with_copy) == _assessment(resources)


@pytest.mark.parametrize(
    "original",
    [r for r in SPECIMEN_RECORD if r["resourceType"] != "Patient"],
    ids=lambda r: r["id"],
)
@pytest.mark.parametrize("change", CHANGES)
def test_every_copy_of_a_small_record_changes_nothing(
    original: dict[str, Any], change: dict[str, Any]
) -> None:
    for new_id in (None, "eie-copy"):
        eie = _entered_in_error(original, new_id, change)
        for with_copy in ([eie, *SPECIMEN_RECORD], [*SPECIMEN_RECORD, eie]):
            assert _assessment(with_copy) == _assessment(SPECIMEN_RECORD)
    warnings = assess_resources(
        [*SPECIMEN_RECORD, _entered_in_error(original, "eie-copy", change)],
        codes=CODES,
        primary="inpog",
        as_of=AS_OF,
    ).assessment.to_json()["warnings"]
    named = f"{original['resourceType']}/eie-copy does not stand"
    assert any(w.startswith(named) for w in warnings)
