"""SMART launch end to end over real HTTP: demo EHR (Authlib), sekmet-fhir, the app."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.smart.conftest import Stack, StackFactory, make_smart_app

pytestmark = pytest.mark.integration
T = (3.05, 30.0)


def _groups(html: str) -> dict[str, str]:
    """Scheme id → group shown on the scheme cards."""
    found = re.findall(r'id="h-s-(\w+)">.*?<p class="group g-[\w]+">([\w]+)</p>', html, re.S)
    return dict(found)


def _authorize_redirect(stack: Stack, http: requests.Session, patient: str) -> str:
    """Run the EHR launch up to the EHR's redirect back to the app; return that callback URL."""
    r = http.get(f"{stack.ehr}/launch/{patient}", timeout=T, allow_redirects=False)
    r = http.get(r.headers["Location"], timeout=T, allow_redirects=False)  # app /launch
    assert r.status_code == 302
    authorize = r.headers["Location"]
    r = http.get(authorize, timeout=T, allow_redirects=False)  # EHR /authorize (auto approve)
    assert r.status_code == 302, r.text
    return str(r.headers["Location"])


def test_ehr_launch_renders_groups_and_opens_the_app_context_view(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        r = http.get(
            f"{stack.ehr}/launch/smart-late-b",
            params={"appContext": "view=pathway"},
            timeout=T,
        )
    assert r.status_code == 200, r.text
    assert urlsplit(r.url).path == "/app/view"
    assert parse_qs(urlsplit(r.url).query) == {"view": ["pathway"]}
    assert _groups(r.text) == {
        "bfm": "S2",
        "allr3": "intermediate",
        "cog": "low",
        "intreall": "standard",
        "inpog": "standard",
    }
    assert 'id="pathway" class="section open"' in r.text
    assert 'aria-current="page">Pathway<' in r.text
    assert "Lena Late" in r.text
    assert "Decision support, not a decision" in r.text
    # The MRD below 1e-4 and its source are shown, with a link the app can resolve.
    assert "&lt; 0.01 %" in r.text
    assert "/app/resource/Observation/slb-mrd" in r.text


def test_the_view_in_the_launch_url_opens_when_the_launcher_drops_app_context(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        # As from the card's link `/app/launch?view=pathway`, with no appContext in the token.
        r = http.get(f"{stack.ehr}/launch/smart-late-b", params={"view": "pathway"}, timeout=T)
    assert r.status_code == 200, r.text
    assert parse_qs(urlsplit(r.url).query) == {"view": ["pathway"]}
    assert 'id="pathway" class="section open"' in r.text


def test_launch_sends_pkce_state_aud_and_scopes_and_keeps_tokens_off_the_browser(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        r = http.get(f"{stack.ehr}/launch/smart-late-b", timeout=T, allow_redirects=False)
        r = http.get(r.headers["Location"], timeout=T, allow_redirects=False)
        cookie = r.headers["Set-Cookie"]
        query = parse_qs(urlsplit(r.headers["Location"]).query)
        final = http.get(r.headers["Location"], timeout=T)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 32
    assert query["aud"] == [stack.iss]
    # Only what the app uses: no openid/fhirUser (a launcher loops at a login the app does not
    # need), no offline_access (the app refreshes no token).
    # Every type the engine searches, the reinduction drugs (day 0) included.
    reads = (
        "Patient",
        "Condition",
        "Observation",
        "Procedure",
        "CarePlan",
        "MedicationRequest",
        "MedicationAdministration",
    )
    assert query["scope"][0].split() == ["launch", *(f"patient/{t}.rs" for t in reads)]
    assert final.status_code == 200
    assert "access_token" not in final.text
    assert "code=" not in final.url


def test_standalone_launch_asks_for_launch_patient(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True, default_patient="smart-t-early")
    with requests.Session() as http:
        r = http.get(f"{stack.app}/app/launch", params={"iss": stack.iss}, timeout=T)
        first = r.history[0].headers["Location"]  # app → EHR authorize
    assert r.status_code == 200, r.text
    assert "launch/patient" in parse_qs(urlsplit(first).query)["scope"][0].split()
    assert "launch" not in parse_qs(urlsplit(first).query)
    assert _groups(r.text) == {
        "bfm": "S4",
        "allr3": "high",
        "cog": "high",
        "intreall": "high",  # risk-schemes §10: the untested BCR-ABL1 exclusion leaves it standing
        "inpog": "high",
    }
    assert 'id="summary" class="section open"' in r.text


def test_the_server_verifies_pkce(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        callback = _authorize_redirect(stack, http, "smart-late-b")
        code = parse_qs(urlsplit(callback).query)["code"][0]
        wrong = requests.post(
            f"{stack.ehr}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": "relapse-cds-app",
                "redirect_uri": f"{stack.app}/app/callback",
                "code_verifier": "x" * 64,
            },
            timeout=T,
        )
        missing = requests.post(
            f"{stack.ehr}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": "relapse-cds-app",
                "redirect_uri": f"{stack.app}/app/callback",
            },
            timeout=T,
        )
        # The app holds the right verifier server side, so its own exchange succeeds.
        ok = http.get(callback, timeout=T)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert missing.status_code == 400
    assert ok.status_code == 200
    assert _groups(ok.text)["bfm"] == "S2"


def test_the_ehr_refuses_an_authorization_request_without_pkce(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    r = requests.get(
        f"{stack.ehr}/authorize",
        params={
            "response_type": "code",
            "client_id": "relapse-cds-app",
            "redirect_uri": f"{stack.app}/app/callback",
            "scope": "launch/patient",
            "state": "s" * 32,
            "aud": stack.iss,
        },
        timeout=T,
        allow_redirects=False,
    )
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_request"]


def test_a_state_that_does_not_match_is_refused(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        callback = _authorize_redirect(stack, http, "smart-late-b")
        code = parse_qs(urlsplit(callback).query)["code"][0]
        forged = http.get(
            f"{stack.app}/app/callback", params={"code": code, "state": "forged"}, timeout=T
        )
        # Right state, but from a browser that did not start the launch (no session cookie).
        other = requests.get(callback, timeout=T)
    for r in (forged, other):
        assert r.status_code == 400
        assert "This sign-in was not started here" in r.text
        assert "Traceback" not in r.text


def test_denied_authorization_is_a_clear_page(make_stack: StackFactory) -> None:
    stack = make_stack()
    with requests.Session() as http:
        page = http.get(f"{stack.ehr}/launch/smart-late-b", timeout=T)
        assert "Approve" in page.text  # the EHR's consent page
        r = http.post(page.url, data={"decision": "deny"}, timeout=T)
    assert r.status_code == 403
    assert "Access was not granted" in r.text


def test_token_endpoint_error_is_a_clear_page(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        callback = _authorize_redirect(stack, http, "smart-late-b")
        state = parse_qs(urlsplit(callback).query)["state"][0]
        r = http.get(
            f"{stack.app}/app/callback", params={"code": "not-a-code", "state": state}, timeout=T
        )
    assert r.status_code == 502
    assert "The EHR refused to issue access" in r.text
    assert "invalid_grant" in r.text


def test_fhir_401_is_a_clear_page(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True, token_lifetime=0)
    with requests.Session() as http:
        r = http.get(f"{stack.ehr}/launch/smart-late-b", timeout=T)
    assert r.status_code == 401
    assert "The EHR no longer grants access" in r.text


def test_the_fhir_proxy_requires_a_token(make_stack: StackFactory) -> None:
    stack = make_stack()
    r = requests.get(f"{stack.iss}/Patient/smart-late-b", timeout=T)
    assert r.status_code == 401


def test_patient_without_relapse_is_said_plainly(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        r = http.get(f"{stack.ehr}/launch/smart-no-relapse", timeout=T)
    assert r.status_code == 200
    assert "No relapse recorded" in r.text
    assert 'id="schemes"' not in r.text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("iss", "status", "title"),
    [
        (None, 400, "The EHR address is missing or invalid"),
        ("http://ehr.example.org/fhir", 400, "The EHR address is missing or invalid"),
        ("javascript:alert(1)", 400, "The EHR address is missing or invalid"),
        ("CLOSED", 502, "sign-in settings could not be read"),
    ],
)
def test_launch_errors(tmp_path: Path, iss: str | None, status: int, title: str) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}/fhir"
    app = make_smart_app(tmp_path / "s.sqlite3", issuers=(closed,))
    query = {} if iss is None else {"iss": closed if iss == "CLOSED" else iss}
    r = app.test_client().get("/app/launch", query_string=query)
    assert r.status_code == status
    assert title in r.text
    assert "text/html" in r.headers["Content-Type"]


def test_view_without_session_asks_to_relaunch(app_url: str) -> None:
    r = requests.get(f"{app_url}/app/view", timeout=T)
    assert r.status_code == 401
    assert "Your session has ended" in r.text
