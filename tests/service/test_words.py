"""Words a clinician reads (issue 8): cards and the SMART app show plans, additions, groups,
timing, site patterns, input names and sources in words, never a code or a file name."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, render_template

from cds_hooks.fhir import FhirClient
from cds_hooks.models import cards_response
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service.cards import build_cards
from service.cli import _summary
from service.domain.assessment import INDETERMINATE, NOT_APPLICABLE, Addition, Plan
from service.domain.facts import INPUT_NAMES
from service.domain.inputs import ALL_MARKERS, Site
from service.domain.schemes import scheme_keys
from service.domain.sites import COMBINED, ISOLATED_EXTRAMEDULLARY, ISOLATED_MARROW
from service.domain.timing import VERY_EARLY
from service.domain.words import INPUT_WORDS
from service.engine import KEY_LABELS, EngineResult, assess_resources
from service.smart import SmartConfig, create_smart_blueprint
from service.smart.view import SECTIONS, build_page
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted(
    p
    for folder in (FIXTURES, ROOT / "service/demo/patients", ROOT / "tests/smart/data")
    for p in folder.glob("*.json")
    if json.loads(p.read_text(encoding="utf-8")).get("resourceType") == "Bundle"
)
CODES = load_codesets()
AS_OF = date(2026, 11, 22)
# Every code a reader must never see: the `_`-joined values of the enums and tables the
# assessment is made of, input names included, and source file names.
CODES_SHOWN_NEVER = sorted(
    {
        str(v)
        for v in (
            *Plan,
            *Addition,
            *Site,
            *INPUT_NAMES,
            *INPUT_WORDS,
            *ALL_MARKERS,
            INDETERMINATE,
            NOT_APPLICABLE,
            VERY_EARLY,
            ISOLATED_MARROW,
            ISOLATED_EXTRAMEDULLARY,
            COMBINED,
        )
        if "_" in str(v)
    }
)
FORBIDDEN = re.compile(
    r"\b(" + "|".join(map(re.escape, CODES_SHOWN_NEVER)) + r")\b|\bseed\b|\b00\d_", re.IGNORECASE
)


def _unused_assess(client: FhirClient, patient_id: str) -> EngineResult:
    raise AssertionError("the page is rendered directly")


@pytest.fixture(scope="module")
def app() -> Flask:
    config = SmartConfig(
        client_id="relapse-cds-app",
        redirect_url="https://cds.example.org/app/callback",
        scopes="",
        scope_style="v2",
        client_secret=None,
        session_secret=b"test-session-secret-0123456789",
        allowed_issuers=(),
    )
    flask_app = Flask(__name__)
    flask_app.register_blueprint(
        create_smart_blueprint(config, _unused_assess, sa.create_engine("sqlite://"))
    )
    return flask_app


def engine(path: Path, primary: str) -> EngineResult:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return assess_resources(
        resources_from_bundle(bundle), codes=CODES, primary=primary, as_of=AS_OF
    )


def page_text(app: Flask, result: EngineResult) -> str:
    """The app page as a reader sees it: text only, tags (and so style classes) removed."""
    with app.test_request_context():
        html = render_template(
            "smart_page.html",
            page=build_page(result.assessment, {}, result.failures, KEY_LABELS),
            sections=SECTIONS,
            open_section="summary",
            iss="https://ehr.example.org/fhir",
        )
    return re.sub(r"<[^>]+>", " ", html.split("<main", 1)[1])


def card_text(result: EngineResult) -> str:
    cards: list[dict[str, Any]] = cards_response(build_cards(result, app_url=None))["cards"]
    return "\n".join(f"{c['summary']}\n{c['detail']}" for c in cards)


def _shown(text: str) -> list[str]:
    # Resource ids are the record's own (e.g. "Condition/x-y_z"): quoted, not codes of ours.
    without_refs = re.sub(r"\b[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+", " ", text.replace("\\", ""))
    return sorted({m.group(0) for m in FORBIDDEN.finditer(without_refs)})


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_no_code_or_file_name_reaches_a_card_the_app_or_the_cli_text(
    app: Flask, path: Path
) -> None:
    for primary in scheme_keys():
        result = engine(path, primary)
        assert _shown(card_text(result)) == [], primary
        assert _shown(page_text(app, result)) == [], primary
        a = result.assessment
        text = _summary(Path("record.json"), a.to_json(), a.response)
        assert _shown(text) == [], primary


def test_the_check_finds_a_code_a_file_name_and_a_seed() -> None:
    assert _shown("plan: chemotherapy_then_hsct; not_applicable; seed 002; 004_x") == [
        "004_",
        "chemotherapy_then_hsct",
        "not_applicable",
        "seed",
    ]
    assert _shown("Condition/rel-not_applicable-1; marrow blasts") == []


def _card_inputs(result: EngineResult) -> dict[str, str]:
    (risk, _) = cards_response(build_cards(result, app_url=None))["cards"]
    lines = [line[2:] for line in risk["detail"].split("\n") if line.startswith("- ")]
    pairs = (line.split(": ", 1) for line in lines if ": " in line)
    return {label: re.sub(r"\\(.)", r"\1", value) for label, value in pairs}


def _app_inputs(result: EngineResult) -> dict[str, tuple[str, tuple[str, ...]]]:
    page = build_page(result.assessment, {}, {}, {})
    return {row.label: (row.value, tuple(s.ref for s in row.sources)) for row in page.inputs}


def test_a_negative_that_nothing_documents_reads_not_documented() -> None:
    result = engine(FIXTURES / "gen-hyperdiploid.json", "bfm")
    card, app = _card_inputs(result), _app_inputs(result)
    # risk-schemes §3: prior HSCT and refractory disease count only when documented.
    assert card["Prior allogeneic HSCT"] == "not documented"
    assert card["Refractory disease"] == "not documented"
    assert app["Prior allogeneic HSCT"] == ("not documented", ())
    assert app["Refractory disease"] == ("not documented", ())
    # A negative read from a resource keeps its source.
    assert card["On frontline therapy at relapse"].startswith("no — Observation/")
    assert app["On frontline therapy at relapse"][0] == "no"


def test_refractory_from_the_response_reads_yes_with_its_rule() -> None:
    # risk-schemes §7: induction failure is refractory disease, though no code says so.
    result = engine(FIXTURES / "resp-fail.json", "bfm")
    expected = "yes: induction failure on reinduction (RESP-FAIL)"
    assert _card_inputs(result)["Refractory disease"] == expected
    assert _app_inputs(result)["Refractory disease"] == (expected, ())


def test_the_cli_text_gives_the_response_in_the_card_words() -> None:
    result = engine(FIXTURES / "resp-fail.json", "bfm")
    a = result.assessment
    text = _summary(Path("r.json"), a.to_json(), a.response)
    (words,) = [x[25:] for x in text.splitlines() if x.startswith("Response to reinduction: ")]
    assert words.startswith("induction failure (no CR on day 28): refractory disease (RESP-FAIL)")
    card = re.sub(r"\\(.)", r"\1", card_text(result))
    assert f"**Response to reinduction:** {words}" in card


def test_a_documented_prior_hsct_reads_yes_with_its_source() -> None:
    result = engine(FIXTURES / "prior-hsct.json", "bfm")
    assert _card_inputs(result)["Prior allogeneic HSCT"].startswith("yes — Procedure/")
    value, sources = _app_inputs(result)["Prior allogeneic HSCT"]
    assert value == "yes"
    assert sources


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            # A karyotype covers the ploidy markers only (risk-schemes §5).
            "gen-hyperdiploid",
            "evaluated; high-risk markers present: none; other markers present: high "
            "hyperdiploidy (> 50); high-risk markers no result covered: BCR-ABL1, ABL-class, "
            "KMT2A, iAMP21, TCF3, TP53",
        ),
        ("gen-not-tested", "not tested: no karyotype or genomic result read"),
    ],
)
def test_the_genetics_line_is_the_same_on_the_card_and_in_the_app(name: str, expected: str) -> None:
    result = engine(FIXTURES / f"{name}.json", "bfm")
    card = _card_inputs(result)["Genetics"].split(" — ")[0]
    assert card == _app_inputs(result)["Genetics"][0] == expected


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_card_and_app_give_every_input_the_same_words(path: Path) -> None:
    result = engine(path, "bfm")
    if result.assessment.status != "relapsed":
        return
    app = _app_inputs(result)
    for label, line in _card_inputs(result).items():
        if label not in app:
            continue  # a line of another list (additions, evidence) that has a colon
        value, sources = app[label]
        assert line == (f"{value} — {', '.join(sources)}" if sources else value), label
