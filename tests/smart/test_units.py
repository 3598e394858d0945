"""The SMART app's pure helpers: scopes, appContext, timeline figure, sessions, names."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import flask
import pytest
import requests
import sqlalchemy as sa

from cds_hooks.fhir import FhirClient
from service.app import _smart_config
from service.domain import assess
from service.domain.inputs import Lineage, Mrd, RelapseInputs
from service.domain.thresholds import Comparator
from service.domain.words import format_mrd
from service.engine import EngineResult
from service.settings import Settings
from service.smart import blueprint as smart_blueprint
from service.smart.config import SmartConfig, valid_url
from service.smart.timeline import build_timeline
from service.smart.view import (
    SECTIONS,
    _source,
    build_page,
    opening_view,
    patient_name,
    view_from_app_context,
)
from tests.domain.builders import make_inputs
from tests.domain.test_response import LATER, on, record


def _config(style: str) -> SmartConfig:
    return SmartConfig(
        client_id="c",
        redirect_url=None,
        scopes="openid fhirUser launch",
        scope_style="v1" if style == "v1" else "v2",
        client_secret=None,
        session_secret=b"0123456789abcdef",
    )


def test_scopes_follow_the_launch_kind_and_the_scope_style() -> None:
    v1 = _config("v1").requested_scopes(ehr_launch=False).split()
    v2 = _config("v2").requested_scopes(ehr_launch=True).split()
    assert v1[:3] == ["launch/patient", "openid", "fhirUser"]
    assert "patient/Condition.read" in v1
    assert "patient/Condition.rs" in v2
    assert v2.count("launch") == 1  # no duplicate when configured scopes repeat it
    assert not any(s.endswith(".rs") for s in v1)


def test_the_service_asks_for_identity_scopes_only_when_configured() -> None:
    plain = _smart_config(Settings(auth="none")).requested_scopes(ehr_launch=True).split()
    assert plain[0] == "launch"
    assert all(s.startswith("patient/") for s in plain[1:])
    configured = _smart_config(Settings(auth="none", smart_scopes="openid fhirUser"))
    assert {"openid", "fhirUser"} <= set(configured.requested_scopes(ehr_launch=True).split())


@pytest.mark.parametrize(
    ("app_context", "view"),
    [
        ("view=pathway", "pathway"),
        ("view=schemes&x=1", "schemes"),
        ("pathway", "pathway"),
        ("view=../../etc", None),
        ("other=pathway", None),
        (None, None),
    ],
)
def test_app_context_opens_only_known_sections(app_context: str | None, view: str | None) -> None:
    assert view_from_app_context(app_context) == view


@pytest.mark.parametrize(
    ("app_context", "launch_view", "view"),
    [
        ("view=schemes", "pathway", "schemes"),  # the token's appContext first
        (None, "pathway", "pathway"),  # the launch URL's view when the launcher drops it
        ("view=nonsense", "pathway", "pathway"),
        (None, "../../etc", "summary"),
        (None, None, "summary"),
    ],
)
def test_the_opening_view_falls_back_to_the_launch_url(
    app_context: str | None, launch_view: str | None, view: str
) -> None:
    assert opening_view(app_context, launch_view) == view


def test_mrd_is_shown_in_percent_with_its_comparator() -> None:
    assert format_mrd(Mrd(1e-4, Comparator.LT, None)) == "< 0.01 %"
    assert format_mrd(Mrd(0.005, Comparator.EQ, None)) == "0.5 %"


def _y_of(svg: str, pattern: str) -> float:
    match = re.search(pattern, svg)
    assert match, pattern
    return float(match.group(1))


def test_timeline_places_mrd_on_a_log_axis_against_the_thresholds() -> None:
    inputs = RelapseInputs(
        diagnosis_date=date(2016, 1, 10),
        end_of_therapy=date(2018, 5, 1),
        relapse_date=date(2021, 3, 1),
        relapse_dates=(date(2021, 3, 1),),
        hsct_dates=(date(2021, 9, 1),),
        mrd_series=(
            Mrd(1e-2, Comparator.EQ, date(2021, 3, 31)),
            Mrd(1e-4, Comparator.LT, date(2021, 5, 1)),
            Mrd(1e-3, Comparator.EQ, None),
        ),
    )
    t = build_timeline(inputs)
    svg = str(t.svg)
    y_1e3 = _y_of(svg, r'y1="([\d.]+)"[^>]*class="threshold"')
    y_points = [float(v) for v in re.findall(r'cy="([\d.]+)" r="4"', svg)]
    # One decade is the same height everywhere on a log axis: 1e-2 sits one decade above 1e-3.
    decade = y_points[1] - y_points[0]
    assert decade > 0
    assert y_1e3 == pytest.approx(y_points[0] + decade / 2)
    assert 'class="mrd-open"' in svg  # "<1e-4" is drawn as an upper bound
    assert svg.count('class="threshold"') == 2
    assert svg.count("<title>MRD") == 2  # the undated MRD cannot be placed
    assert t.text == (
        "2016-01-10: Diagnosis",
        "2018-05-01: End of frontline therapy",
        "2021-03-01: Relapse",
        "2021-03-31: MRD 1 %",
        "2021-05-01: MRD < 0.01 %",
        "2021-09-01: HSCT",
        "undated: MRD 0.1 %",
    )


def test_timeline_without_dates_has_no_figure() -> None:
    assert str(build_timeline(RelapseInputs()).svg) == ""


def test_patient_name_prefers_the_official_name() -> None:
    patient = {
        "name": [
            {"use": "nickname", "given": ["Bri"]},
            {"use": "official", "given": ["Brian", "L"], "family": "Example"},
        ]
    }
    assert patient_name(patient) == "Brian L Example"
    assert patient_name({}) == "Unnamed patient"


@pytest.mark.parametrize("rid", [".", ".."])
def test_a_dot_segment_is_not_linked_as_a_resource(rid: str) -> None:
    # "Observation/.." would be read as the Observation search, not a resource.
    assert _source(f"Observation/{rid}").rtype is None
    assert _source("Observation/o-1.v2").rtype == "Observation"


def test_page_names_the_scheme_followed_and_the_mrd_threshold_in_words() -> None:
    mpal = assess(make_inputs("late", "isolated_marrow", lineage=Lineage.MPAL), date(2026, 1, 1))
    page = build_page(mpal, {}, {}, {})
    assert page.scheme_name == "InPOG-ALL-R1"
    assert page.scheme_text == (
        "Following InPOG-ALL-R1: the primary scheme, BFM, does not apply (PATH-0)"
    )
    directed = assess(make_inputs("late", "isolated_marrow", mrd=None), date(2026, 1, 1), "allr3")
    text = build_page(directed, {}, {}, {}).plan_text
    assert text.startswith("MRD decides: HSCT if post-induction MRD ≥ 0.01 %")


def unused_assess(client: FhirClient, patient_id: str) -> EngineResult:
    raise AssertionError("not reached: the launch fails first")


def test_an_unexpected_error_is_a_500_page_and_logs_no_message_at_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Jane Doe, MRN 0012345")

    monkeypatch.setattr(requests, "get", boom)
    config = replace(
        _config("v2"),
        allowed_issuers=("https://ehr.example.org/fhir",),
        redirect_url="https://cds.example.org/app/callback",
    )
    app = flask.Flask(__name__)
    app.register_blueprint(
        smart_blueprint.create_smart_blueprint(
            config, unused_assess, sa.create_engine(f"sqlite:///{tmp_path / 'db'}")
        )
    )
    with caplog.at_level(logging.DEBUG, logger="service.smart"):
        response = app.test_client().get("/app/launch?iss=https://ehr.example.org/fhir&launch=1")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert "RuntimeError" in " ".join(r.getMessage() for r in shown)
    # No traceback either: any handler but ours would print the message with it.
    assert all(r.exc_info is None for r in shown)


def test_page_shows_the_response_to_reinduction_in_words() -> None:
    inputs = make_inputs("late", "isolated_marrow")
    page = build_page(assess(inputs, LATER, "bfm", record({7: "M3", 28: "M1"})), {}, {}, {})
    assert page.response_text is not None
    assert page.response_text.startswith("slow early response (RESP-SER); day 0 2019-01-10")
    assert build_page(assess(inputs, LATER), {}, {}, {}).response_text is None


def test_timeline_shows_reinduction_day0_and_the_marrows_with_their_grade() -> None:
    inputs = make_inputs("late", "isolated_marrow")
    a = assess(inputs, LATER, "bfm", record({7: "M3", 14: "M2", 28: "M1"}))
    t = build_timeline(a.inputs, a.response)
    assert "2019-01-10: Reinduction day 0" in t.text
    assert "2019-01-17: Day-7 marrow M3" in t.text
    assert "2019-02-07: Day-28 marrow M1" in t.text
    svg = str(t.svg)
    assert svg.count('class="ev-marrow"') == 3
    assert svg.count('class="ev-day0"') == 1


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://ehr.example.org/fhir", True),
        ("http://127.0.0.2:8080/fhir", True),  # loopback, as the hook's FHIR servers
        ("http://ehr.example.org/fhir", False),
        ("https://ehr.example.org/fhir;script-src *", False),  # would end a CSP source
        ("https://ehr.example.org/a,b", False),
        ("https://ehr.example.org/fhir?x=1", False),
    ],
)
def test_an_issuer_url_is_https_and_cannot_break_the_csp(url: str, ok: bool) -> None:
    assert valid_url(url) is ok


def test_page_shows_the_counts_behind_cr2_with_their_sources_escaped(tmp_path: Path) -> None:
    inputs = make_inputs("late", "isolated_marrow")
    r = record({7: "M3", 28: "M1"})
    odd = "Observation/<b>x</b>"  # ids come from FHIR: never markup on the page
    r = replace(r, platelets=(replace(r.platelets[0], source=odd),))
    page = build_page(assess(inputs, LATER, "bfm", r), {}, {}, {})
    rows = [(c.label, c.value, c.source.ref if c.source else None) for c in page.response_counts]
    assert rows == [
        ("ANC", "1,200/µL on 2019-02-07", "Observation/anc"),
        ("Platelets", "110,000/µL on 2019-02-07", odd),
        ("Circulating blasts", "not documented", None),
    ]
    assert page.response_counts[0].source == _source("Observation/anc")
    assert page.response_notes == assess(inputs, LATER, "bfm", r).response.notes  # type: ignore[union-attr]
    app = flask.Flask(__name__)
    app.register_blueprint(
        smart_blueprint.create_smart_blueprint(
            _config("v2"), unused_assess, sa.create_engine(f"sqlite:///{tmp_path / 'db'}")
        )
    )
    with app.test_request_context():
        html = flask.render_template(
            "smart_page.html", page=page, sections=SECTIONS, open_section="summary", iss="x"
        )
    assert "ANC: 1,200/µL on 2019-02-07" in html
    assert 'href="/app/resource/Observation/anc"' in html
    assert "Circulating blasts: not documented" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    # Before a day-28 marrow there is nothing to show.
    assert (
        build_page(assess(inputs, on(20), "bfm", record({7: "M1"})), {}, {}, {}).response_counts
        == ()
    )


def test_page_says_what_would_change_the_answer_as_the_card_does() -> None:
    # Birth date unknown: only InPOG-ALL-R1 reads the age at diagnosis (≥ 15 years → high).
    unaged = assess(make_inputs("late", "isolated_marrow", birth_date=None), date(2026, 1, 1))
    assert build_page(unaged, {}, {}, {}).changes == (
        (
            "InPOG-ALL-R1, now undetermined",
            (
                "age < 15 years at diagnosis → standard (INPOG)",
                "age ≥ 15 years at diagnosis → high (INPOG)",
            ),
        ),
    )
    assert build_page(assess(make_inputs(), date(2026, 1, 1)), {}, {}, {}).changes == ()
