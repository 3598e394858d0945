"""Code sets: data files, system normalisation, extension by an institution's file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappings.codesets import CODES_DIR, CodeSets, load_codesets, normalise_system
from mappings.errors import InvalidCodeSets
from mappings.extract import extract

SCT = "http://snomed.info/sct"


def _file_entries() -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    for path in sorted(CODES_DIR.glob("*.json")):
        for name, entries in json.loads(path.read_text())["sets"].items():
            out.extend((name, e) for e in entries)
    return out


@pytest.mark.parametrize(("name", "entry"), _file_entries())
def test_every_shipped_code_matches_and_has_a_status(
    codes: CodeSets, name: str, entry: dict[str, str]
) -> None:
    assert entry["status"] in ("V", "C")
    assert codes.entry(name, entry["system"], entry["code"]) is not None


@pytest.mark.parametrize(
    "system",
    [
        "http://snomed.info/sct",
        "http://snomed.info/sct/",
        "https://snomed.info/sct",
        "HTTP://SNOMED.info/sct",
        "https://Snomed.Info/sct/",
    ],
)
def test_system_variants_match(codes: CodeSets, system: str) -> None:
    assert codes.entry("all_condition", system, "277571004") is not None


def test_path_case_is_significant_and_other_systems_do_not_match(codes: CodeSets) -> None:
    assert codes.entry("all_condition", "http://snomed.info/SCT", "277571004") is None
    assert codes.entry("all_condition", "http://loinc.org", "277571004") is None
    assert normalise_system("urn:relapse-all-cds:concept") == "urn:relapse-all-cds:concept"


@pytest.mark.parametrize(
    ("system", "code"),
    [
        ("http://www.genenames.org", "HGNC:11998"),
        ("http://www.genenames.org/geneId", "HGNC:11998"),
        ("https://www.genenames.org/geneId/", "11998"),
        ("http://www.genenames.org", "hgnc:11998"),
    ],
)
def test_hgnc_alias_system(codes: CodeSets, system: str, code: str) -> None:
    entry = codes.entry("gene", system, code)
    assert entry is not None
    assert entry.value == "TP53"


def test_icd_o_3_ranges_are_listed_explicitly(codes: CodeSets) -> None:
    o3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
    listed = [*range(9805, 9810), *range(9811, 9819), 9835, 9836, 9837]
    for n in listed:
        assert codes.entry("all_condition", o3, f"{n}/3") is not None, n
    assert codes.entry("all_condition", o3, "9810/3") is None
    assert codes.entry("all_condition", o3, "9819/3") is None


def test_observation_codes_for_the_prefetch(codes: CodeSets) -> None:
    got = codes.observation_codes()
    assert ("http://loinc.org", "62356-1") in got
    assert ("http://loinc.org", "69548-6") in got
    assert ("urn:relapse-all-cds:concept", "mrd") in got
    assert ("http://loinc.org", "48018-6") not in got  # a component code, not an Observation's
    assert len(got) == len(set(got))


def test_an_institution_file_adds_a_local_mrd_code(tmp_path: Path) -> None:
    local = tmp_path / "local.json"
    local.write_text(
        json.dumps(
            {"sets": {"mrd": [{"system": "http://lab.example.org/codes", "code": "MRD-FC"}]}}
        )
    )
    codes = load_codesets(local)
    assert ("http://lab.example.org/codes", "MRD-FC") in codes.observation_codes()
    assert codes.entry("mrd", "urn:relapse-all-cds:concept", "mrd") is not None  # defaults kept
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p", "birthDate": "2012-01-01"},
        {
            "resourceType": "Condition",
            "id": "dx",
            "code": {"coding": [{"system": SCT, "code": "277571004"}]},
            "subject": {"reference": "Patient/p"},
            "onsetDateTime": "2018-01-01",
        },
        {
            "resourceType": "Condition",
            "id": "rel",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.02"}]},
            "subject": {"reference": "Patient/p"},
            "onsetDateTime": "2021-01-01",
        },
        {
            "resourceType": "Observation",
            "id": "m",
            "status": "final",
            "code": {"coding": [{"system": "http://lab.example.org/codes/", "code": "MRD-FC"}]},
            "effectiveDateTime": "2021-02-05",
            "valueString": "0.02%",
        },
    ]
    assert extract(resources, load_codesets()).mrd is None
    mrd = extract(resources, codes).mrd
    assert mrd is not None
    assert mrd.value == pytest.approx(2e-4)


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps([1]), json.dumps({"sets": {"mrd": [{"code": "x"}]}})],
)
def test_a_broken_institution_file_is_refused(tmp_path: Path, content: str) -> None:
    local = tmp_path / "local.json"
    local.write_text(content)
    with pytest.raises(InvalidCodeSets):
        load_codesets(local)
