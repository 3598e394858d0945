"""A clone anywhere is complete: the clinical spec travels with it and nothing reaches outside."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("cds_hooks", "mappings", "service", "tests", "bench", "scripts", ".ci")
# Spelled in two pieces so this file does not match itself.
OUTSIDE = (".." + "/shared", "/ " + '"shared"')


def test_the_clinical_spec_travels_with_the_product() -> None:
    spec = ROOT / "docs" / "clinical"
    assert "# Relapse risk schemes" in (spec / "risk-schemes.md").read_text(encoding="utf-8")
    assert "# FHIR contract" in (spec / "fhir-contract.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/clinical/risk-schemes.md)" in readme
    assert "(docs/clinical/fhir-contract.md)" in readme


def test_nothing_in_the_project_reads_or_links_outside_the_repository() -> None:
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in SOURCES:
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix != ".pyc"]
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if any(o in p.read_text(encoding="utf-8", errors="replace") for o in OUTSIDE)
    ]
    assert offenders == []


def test_the_licence_is_an_spdx_expression() -> None:
    # The table form stops building with setuptools in February 2027.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
