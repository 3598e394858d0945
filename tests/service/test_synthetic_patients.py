"""Every demo and fixture Patient looks as an EHR sends it, so any FHIR client can show it.

The public CDS Hooks sandbox reads `Patient.name[0].given` and fails on a name with only `text`;
US Core makes identifier (system + value), name (with given or family) and gender mandatory.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.demo.catalog import demo_patients
from service.smart.view import patient_name
from tests.conftest import FIXTURES

GENDERS = {"male", "female", "other", "unknown"}


def _patients(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e.get("resource", {}).get("resourceType") == "Patient"
    ]


def _records() -> list[tuple[str, dict[str, Any]]]:
    found = [(f"demo/{p.key}", r) for p in demo_patients() for r in _patients(p.bundle)]
    for path in sorted(FIXTURES.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        if bundle.get("resourceType") == "Bundle":
            found += [(f"fixtures/{path.stem}", r) for r in _patients(bundle)]
    return found


RECORDS = _records()


def test_every_demo_patient_and_fixture_bundle_is_covered() -> None:
    bundles = [p for p in FIXTURES.glob("*.json") if p.name != "expected.json"]
    assert len({name for name, _ in RECORDS if name.startswith("fixtures/")}) == len(bundles)
    assert len([name for name, _ in RECORDS if name.startswith("demo/")]) == len(demo_patients())


@pytest.mark.parametrize(("where", "patient"), RECORDS, ids=[name for name, _ in RECORDS])
def test_patient_has_the_us_core_elements(where: str, patient: dict[str, Any]) -> None:
    identifiers = patient.get("identifier") or []
    assert identifiers, "no identifier"
    for identifier in identifiers:
        assert identifier.get("value"), identifier
        # A synthetic number under a reserved domain: no hospital's MRN can collide with it.
        host = urlsplit(identifier.get("system", "")).hostname or ""
        assert host.endswith("example.org"), identifier

    names = patient.get("name") or []
    assert names, "no name"
    for name in names:
        given, family = name.get("given") or [], name.get("family") or ""
        assert given, "no given name (the CDS Hooks sandbox reads name[0].given)"
        assert all(isinstance(g, str) and g for g in given)
        assert isinstance(family, str)
        assert family
        assert name.get("text") == " ".join([*given, family])
        assert "Synthetic" in family, "a demo or test name must read as invented"

    assert patient.get("gender") in GENDERS
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", patient.get("birthDate", ""))
    date.fromisoformat(patient["birthDate"])


def test_start_page_and_smart_banner_show_the_same_name() -> None:
    for demo in demo_patients():
        (patient,) = _patients(demo.bundle)
        assert demo.name == patient_name(patient) == patient["name"][0]["text"]


def test_the_order_sign_demo_files_are_what_their_generator_writes() -> None:
    from tests.fixtures.make_order_demo import files

    for path, text in files().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path}: run tests.fixtures.make_order_demo"
        )
