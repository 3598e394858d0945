"""Assessment → cards: what a clinician and an EHR see."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.errors import PrefetchFailure
from cds_hooks.models import cards_response, check_cards_response
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service.cards import ASSESSMENT_EXTENSION, build_cards
from service.domain import assess
from service.domain.inputs import Site
from service.domain.orders import SiteDisease
from service.domain.words import response_words
from service.engine import EngineResult, assess_resources, prefetch_templates
from service.markdown import escape
from service.smart.view import build_page, view_from_app_context
from tests.conftest import FIXTURES, MCODE_EXAMPLE
from tests.domain.builders import make_inputs
from tests.domain.test_response import LATER, on, record

APP = "https://cds.example.org/app/launch"
CODES = load_codesets()


def engine(path: Path, failures: dict[str, PrefetchFailure] | None = None) -> EngineResult:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return assess_resources(
        resources_from_bundle(bundle),
        codes=CODES,
        primary="bfm",
        as_of=date(2026, 11, 22),
        failures=failures,
    )


def cards_of(name: str, failures: dict[str, PrefetchFailure] | None = None) -> list[dict[str, Any]]:
    result = engine(FIXTURES / f"{name}.json", failures)
    response = cards_response(build_cards(result, app_url=APP))
    assert check_cards_response(response) == []
    cards: list[dict[str, Any]] = response["cards"]
    return cards


def test_no_relapse_gives_no_cards() -> None:
    result = engine(MCODE_EXAMPLE)
    assert build_cards(result, app_url=APP) == []


def test_risk_card_shows_the_primary_group_its_basis_and_the_whole_assessment() -> None:
    result = engine(FIXTURES / "b-late-combined.json")
    risk = cards_response(build_cards(result, app_url=APP))["cards"][0]
    assert risk["summary"] == "Relapsed ALL: BFM risk group S2 (BFM-B)"
    assert risk["indicator"] == "info"
    for rule in ("`BFM-B`", "`ALLR3`", "`COG`", "`INTREALL`", "`INPOG`", "`TIME-BFM`"):
        assert rule in risk["detail"]
    assert "Condition/" in risk["detail"]  # inputs name their source resources
    assert "Decision support, not a decision" in risk["detail"]
    assert risk["extension"][ASSESSMENT_EXTENSION] == result.assessment.to_json()
    assert {r["code"] for r in risk["overrideReasons"]} >= {"clinical-judgement"}


def test_smart_links_leave_iss_and_launch_to_the_ehr_and_open_the_matching_view() -> None:
    risk, pathway = cards_of("b-late-combined")
    for card, view in ((risk, "schemes"), (pathway, "pathway")):
        (link,) = card["links"]
        assert link["type"] == "smart"
        # The view rides in the URL as well (launchers that drop appContext); the EHR adds
        # iss and launch to that query.
        assert link["url"] == f"{APP}?view={view}"
        assert view_from_app_context(link["appContext"]) == view


def test_hsct_plan_suggests_a_consultation_order() -> None:
    _, pathway = cards_of("b-ve-marrow")
    assert pathway["selectionBehavior"] == "any"
    (suggestion,) = pathway["suggestions"]
    (action,) = suggestion["actions"]
    resource = action["resource"]
    assert action["type"] == "create"
    assert resource["resourceType"] == "ServiceRequest"
    assert resource["intent"] == "proposal"
    assert resource["subject"] == {"reference": "Patient/rel-b-ve-marrow"}


def test_missing_post_induction_mrd_suggests_ordering_it() -> None:
    _, pathway = cards_of("mrd-at-relapse-only")
    labels = [s["label"] for s in pathway.get("suggestions", [])]
    assert "Order bone marrow MRD after relapse induction" in labels
    assert "PATH-3" in pathway["detail"]


def test_mrd_directed_plan_names_its_threshold_in_words() -> None:
    # Late B marrow, MRD only at relapse: BFM S2, MRD decides against 1e-3 (§4, PATH-3).
    _, pathway = cards_of("mrd-at-relapse-only")
    assert pathway["summary"] == (
        "Suggested pathway: MRD decides: HSCT if post-induction MRD ≥ 0.1 %, chemotherapy "
        "without HSCT below it (PATH-3)"
    )
    assert "mrd_directed" not in pathway["summary"]


def test_path0_cards_name_the_scheme_followed_and_the_one_that_does_not_apply() -> None:
    risk, pathway = cards_of("mpal")
    assert risk["summary"] == (
        "Relapsed ALL: InPOG-ALL-R1 risk group high (INPOG); BFM does not apply (PATH-0)"
    )
    assert (
        "**Primary scheme (BFM (ALL-REZ BFM strategic groups)): not applicable**"
        in (risk["detail"])
    )
    assert pathway["summary"] == (
        "Suggested pathway: intensive chemotherapy, then allogeneic HSCT in CR2 (PATH-0, PATH-4)"
    )
    assert "following InPOG-ALL-R1 (`PATH-0`: BFM does not apply)" in pathway["detail"]


def test_what_could_not_be_read_is_on_the_card() -> None:
    risk, _ = cards_of(
        "b-late-combined", {"observations": PrefetchFailure("timeout", "the FHIR server timed out")}
    )
    assert risk["indicator"] == "warning"
    assert "Could not read Observations" in risk["detail"]
    assert "timed out" in risk["detail"]


BUNDLES = sorted(p.stem for p in FIXTURES.glob("*.json") if p.stem != "expected")


@pytest.mark.parametrize("name", BUNDLES)
def test_every_fixture_gives_valid_cards(name: str) -> None:
    for card in cards_of(name):
        assert len(card["summary"]) < 140


def test_response_to_reinduction_is_on_the_risk_card() -> None:
    # Demo patient in reinduction (day 0 2026-02-01, day-14 marrow M1): day 28 not reached yet.
    path = Path(__file__).parents[2] / "service/demo/patients/reinduction-day14.json"
    bundle = json.loads(path.read_text(encoding="utf-8"))
    result = assess_resources(
        resources_from_bundle(bundle), codes=CODES, primary="bfm", as_of=date(2026, 2, 20)
    )
    assert result.assessment.response is not None
    risk = cards_response(build_cards(result, app_url=None))["cards"][0]
    detail = risk["detail"]
    assert (
        "**Response to reinduction:** "
        + escape("pending (no day-28 marrow yet) (RESP-CR2); day 0 2026-02-01")
        in detail
    )
    assert escape("marrows: day 14 M1") in detail
    assert escape("Needs: day-28 marrow.") in detail


def test_patient_view_prefetch_asks_for_what_the_response_reads() -> None:
    # fhir-contract.md: blood counts within the observations key's code list (§7 CR2), and the
    # coded reinduction start that dates day 0.
    template = prefetch_templates(CODES)["observations"]
    for code in ("http://loinc.org|751-8", "http://loinc.org|777-3", "concept|reinduction-start"):
        assert code in template
    assert "urn:relapse-all-cds:concept|mrd" in template


def test_a_coded_reinduction_start_observation_dates_day0_for_the_response() -> None:
    bundle = json.loads((FIXTURES / "resp-rer.json").read_text(encoding="utf-8"))
    resources = [r for r in resources_from_bundle(bundle) if r["resourceType"] != "CarePlan"]
    patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    start = {
        "resourceType": "Observation",
        "id": "start",
        "status": "final",
        "code": {
            "coding": [{"system": "urn:relapse-all-cds:concept", "code": "reinduction-start"}]
        },
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2021-06-20",
    }
    result = assess_resources(
        [*resources, start], codes=CODES, primary="bfm", as_of=date(2026, 11, 22)
    )
    response = result.assessment.response
    assert response is not None
    assert (response.day0.source, response.cls) == ("Observation/start", "RER")


def test_the_counts_behind_cr2_are_on_the_risk_card_with_their_sources() -> None:
    # resp-rer: ANC 1200 /uL and platelets 110 10*3/uL on day 28, no circulating blasts.
    result = engine(FIXTURES / "resp-rer.json")
    detail = cards_response(build_cards(result, app_url=None))["cards"][0]["detail"]
    counts = next(line for line in detail.splitlines() if "Counts for CR2" in line)
    assert counts == "- " + escape(
        "Counts for CR2 (RESP-CR2, within 3 days of the day-28 marrow): "
        "ANC 1,200/µL on 2021-07-18 (Observation/rel-resp-rer-obs-11); "
        "Platelets 110,000/µL on 2021-07-18 (Observation/rel-resp-rer-obs-12); "
        "Circulating blasts not documented.",
        1200,
    )


def test_response_ids_on_the_card_are_escaped() -> None:
    # Ids come from FHIR: markdown in one must stay text (service/markdown.py).
    bad = "Observation/x*y_[z](javascript:1)"
    response_record = replace(record({7: "M1", 14: "M1", 28: "M1"}), anc=())
    response_record = replace(
        response_record,
        platelets=(replace(response_record.platelets[0], source=bad),),
        relapse_sites=frozenset({Site.MARROW, Site.CNS}),
        site_disease=(SiteDisease(frozenset({Site.CNS}), on(28), "Condition/e_m*d"),),
    )
    a = assess(make_inputs("late", "isolated_marrow"), LATER, "bfm", response_record)
    detail = cards_response(build_cards(EngineResult(a), app_url=None))["cards"][0]["detail"]
    assert escape(bad) in detail
    assert bad not in detail
    assert escape("Condition/e_m*d") in detail
    assert "Condition/e_m*d" not in detail
    assert escape("ANC not documented") in detail


@pytest.mark.parametrize(
    ("timing", "marrows", "as_of", "shown"),
    [
        pytest.param("late", {7: "M1", 14: "M1", 28: "M1"}, LATER, True, id="late-CR"),
        pytest.param("late", {7: "M1"}, on(20), False, id="late-pending"),
        pytest.param("late", {28: "M3"}, LATER, False, id="late-FAIL"),
        pytest.param("very_early", {7: "M1", 14: "M1", 28: "M1"}, LATER, False, id="early-CR"),
    ],
)
def test_ev_call_3_is_shown_with_a_cr_response_of_a_late_relapse_on_card_and_page(
    timing: str, marrows: dict[int, str], as_of: date, shown: bool
) -> None:
    # §7: with CR the response is shown with EV-CALL-3 for late relapses (TIME-CALL), whatever
    # the site; the card and the app say the same.
    a = assess(make_inputs(timing, "isolated_extramedullary"), as_of, "bfm", record(marrows))
    detail = cards_response(build_cards(EngineResult(a), app_url=None))["cards"][0]["detail"]
    response_section = detail.split("**Response to reinduction:**", 1)[1].split("\n\n", 1)[0]
    assert ("`EV-CALL-3`: late relapse EFS by early response" in response_section) is shown
    page = build_page(a, {}, {}, {})
    assert [ev.id for ev in page.response_evidence] == (["EV-CALL-3"] if shown else [])


def test_a_preliminary_marrow_or_count_of_the_response_is_marked() -> None:
    # Contract: a preliminary Observation counts, marked so on the card (and in the app).
    r = record({7: "M1", 14: "M1", 28: "M1"})
    marrows = tuple(replace(m, preliminary=m.date == on(28)) for m in r.marrow_blasts)
    r = replace(r, marrow_blasts=marrows, anc=(replace(r.anc[0], preliminary=True),))
    a = assess(make_inputs("late", "isolated_marrow"), LATER, "bfm", r)
    assert a.response is not None
    assert "marrows: day 7 M1, day 14 M1, day 28 M1 (preliminary result);" in response_words(
        a.response
    )
    detail = cards_response(build_cards(EngineResult(a), app_url=None))["cards"][0]["detail"]
    assert escape("ANC 1,200/µL on 2019-02-07 (preliminary result)") in detail
    assert escape("Platelets 110,000/µL on 2019-02-07 (Observation/plt)") in detail
    assert a.to_json()["preliminary"] == ["Observation/anc", "Observation/m28"]


def test_what_would_change_is_on_the_risk_card_for_every_undecided_scheme_in_words() -> None:
    # BFM S2 with the post-induction MRD pending: the plan, COG and InPOG-ALL-R1 each turn on it.
    detail = cards_of("mrd-at-relapse-only")[0]["detail"]
    section = detail.split("**What would change the answer**", 1)[1].split("\n\n", 2)[1]
    assert section.splitlines() == [
        "- The plan (BFM):",
        "  - post-induction MRD < 0.1 % → chemotherapy (reinduction, consolidation, "
        "maintenance), no HSCT (PATH-3)",
        "  - post-induction MRD ≥ 0.1 % → intensive chemotherapy, then allogeneic HSCT in CR2 "
        "(PATH-3)",
        "- COG (AALL1331), now undetermined:",
        "  - post-induction MRD < 0.1 % → low (COG)",
        "  - post-induction MRD ≥ 0.1 % → intermediate (COG)",
        "- InPOG-ALL-R1, now undetermined:",
        "  - post-induction MRD < 0.01 % → standard (INPOG)",
        "  - post-induction MRD ≥ 0.01 % → high (INPOG)",
    ]
    assert "What would change" not in cards_of("b-late-marrow")[0]["detail"]


def test_a_day28_m3_with_day0_uncertain_leaves_the_pathway_card_open() -> None:
    # resp-fail dated from an idarubicin given instead of its CarePlan; the careplans key fails:
    # the response is undetermined, and so is the plan (it could be PATH-1), never PATH-3.
    bundle = json.loads((FIXTURES / "resp-fail.json").read_text(encoding="utf-8"))
    resources = [r for r in resources_from_bundle(bundle) if r["resourceType"] != "CarePlan"]
    given = {
        "resourceType": "MedicationAdministration",
        "id": "ida",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "5650"}]
        },
        "subject": {"reference": "Patient/rel-resp-fail"},
        "effectiveDateTime": "2021-06-20",
    }
    result = assess_resources(
        [*resources, given],
        codes=CODES,
        primary="bfm",
        as_of=date(2026, 11, 22),
        failures={"careplans": PrefetchFailure("timeout", "the FHIR server timed out")},
    )
    a = result.assessment
    assert a.response is not None
    assert (a.response.cls, a.response.day0.source) == (
        "indeterminate",
        "MedicationAdministration/ida",
    )
    assert (a.pathway.plan, a.pathway.decided_by) == ("indeterminate", ("response",))
    risk, pathway = cards_response(build_cards(result, app_url=None))["cards"][:2]
    assert escape("marrows not assigned: day 0 uncertain") in risk["detail"]
    assert "none read" not in risk["detail"]
    assert "PATH-3" not in pathway["summary"] + pathway["detail"]
    assert pathway["indicator"] != "info"
    assert "Decided by: response to reinduction." in pathway["detail"]


@pytest.mark.parametrize(
    ("relapse_code", "cls"),
    [("72410000", "FAIL"), ("39937001", "indeterminate")],
    ids=["mediastinum-still", "skin-after-mediastinum"],
)
def test_day_28_disease_at_another_site_is_compared_by_its_coding(
    relapse_code: str, cls: str
) -> None:
    # resp-emd-day28 with the sites "other": the day-28 Condition names the mediastinum.
    bundle = json.loads((FIXTURES / "resp-emd-day28.json").read_text(encoding="utf-8"))
    resources = resources_from_bundle(bundle)
    snomed = "http://snomed.info/sct"
    for r in resources:
        if r.get("id") == "rel-resp-emd-day28-cond-2":
            r["bodySite"] = [{"coding": [{"system": snomed, "code": relapse_code}]}]
        if r.get("id") == "rel-resp-emd-day28-cond-13":
            r["bodySite"] = [{"coding": [{"system": snomed, "code": "72410000"}]}]
    result = assess_resources(resources, codes=CODES, primary="bfm", as_of=date(2026, 11, 22))
    response = result.assessment.response
    assert response is not None
    assert (response.cls, response.cr2) == (cls, False)
