"""What an attacker or a misconfigured EHR can make the SMART app do (issue 10, point 1)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, redirect

from service.settings import Settings, SettingsError
from service.smart.config import SmartConfig
from tests.servers import wsgi_server
from tests.smart.conftest import StackFactory, make_smart_app

pytestmark = pytest.mark.integration
T = (3.05, 30.0)


@dataclass
class FakeIssuer:
    """A FHIR server's SMART discovery, counting every request the app makes to it."""

    url: str = ""
    conf: dict[str, Any] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    redirect_to: str | None = None

    @property
    def iss(self) -> str:
        return f"{self.url}/fhir"


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer()
    app = Flask(__name__)

    @app.get("/fhir/.well-known/smart-configuration")
    def discovery() -> Any:
        fake.hits.append("discovery")
        if fake.redirect_to:
            return redirect(fake.redirect_to)
        return fake.conf

    with wsgi_server(app) as url:
        fake.url = url
        fake.conf = {
            "authorization_endpoint": f"{url}/authorize",
            "token_endpoint": f"{url}/token",
            "code_challenge_methods_supported": ["S256"],
        }
        yield fake


def _launch(app: Flask, iss: str, **headers: str) -> Any:
    return app.test_client().get("/app/launch", query_string={"iss": iss}, headers=headers)


def test_no_allowed_issuer_means_no_launch_and_no_fetch(tmp_path: Path, issuer: FakeIssuer) -> None:
    app = make_smart_app(tmp_path / "s.sqlite3")  # nothing allowed
    r = _launch(app, issuer.iss)
    assert r.status_code == 403
    assert "not registered" in r.text
    assert issuer.hits == []


def test_an_issuer_not_allowed_is_refused_before_any_fetch(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    app = make_smart_app(tmp_path / "s.sqlite3", issuers=("https://ehr.example.org/fhir",))
    assert _launch(app, issuer.iss).status_code == 403
    assert issuer.hits == []


@pytest.mark.parametrize(
    "variant",
    [
        "{iss}#",  # the fragment would drop the appended /.well-known path
        "{iss}?x=",
        "{iss}/x?y#",
        "http://user:pw@{host}/fhir",
        "http://10.0.0.1/fhir",  # plain http off loopback
        "ftp://{host}/fhir",
        "/fhir",
        "{iss}\\..",
    ],
)
def test_iss_must_be_an_https_base_without_query_or_fragment(
    tmp_path: Path, issuer: FakeIssuer, variant: str
) -> None:
    app = make_smart_app(tmp_path / "s.sqlite3", issuers=(issuer.iss,))
    iss = variant.format(iss=issuer.iss, host=urlsplit(issuer.url).netloc)
    html = _launch(app, iss)
    as_json = _launch(app, iss, Accept="application/json")
    assert html.status_code == as_json.status_code == 400
    assert "text/html" in html.headers["Content-Type"]
    assert as_json.get_json()["error"] == "The EHR address is missing or invalid"
    assert issuer.hits == []


@pytest.mark.parametrize("endpoint", ["authorization_endpoint", "token_endpoint"])
@pytest.mark.parametrize(
    "insecure",
    ["http://evil.example/oauth", "https://user@evil.example/oauth", "https://evil.example/o#x"],
)
def test_sign_in_endpoints_that_are_not_https_are_not_followed(
    tmp_path: Path, issuer: FakeIssuer, endpoint: str, insecure: str
) -> None:
    issuer.conf[endpoint] = insecure
    app = make_smart_app(tmp_path / "s.sqlite3", issuers=(issuer.iss,), client_secret="s3cret")
    r = _launch(app, issuer.iss)
    assert r.status_code == 502  # no redirect to it, no code sent there
    assert "not secure" in r.text
    assert "Location" not in r.headers


def test_an_authorization_server_on_another_host_is_followed(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    # As Oracle Health: FHIR at fhir-ehr.cerner.com, sign-in at authorization.cerner.com. The
    # allowed issuer's own configuration (no redirect followed) names it.
    issuer.conf["authorization_endpoint"] = "https://authorization.example/tenants/t/authorize"
    issuer.conf["token_endpoint"] = "https://authorization.example/tenants/t/token"
    app = make_smart_app(tmp_path / "s.sqlite3", issuers=(issuer.iss,))
    r = _launch(app, issuer.iss)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("https://authorization.example/tenants/t/authorize?")


def test_a_redirect_at_discovery_is_not_followed(tmp_path: Path, issuer: FakeIssuer) -> None:
    # Another server whose discovery is complete, and names its own endpoints.
    elsewhere = Flask("elsewhere")
    with wsgi_server(elsewhere) as other:
        found = {
            k: v.replace(issuer.url, other) if isinstance(v, str) else v
            for k, v in issuer.conf.items()
        }
        elsewhere.add_url_rule("/.well-known/smart-configuration", "d", lambda: found)
        issuer.redirect_to = f"{other}/.well-known/smart-configuration"
        app = make_smart_app(tmp_path / "s.sqlite3", issuers=(issuer.iss,))
        r = _launch(app, issuer.iss)
    assert r.status_code == 502
    assert "Location" not in r.headers


def test_redirect_uri_comes_from_configuration_never_from_host(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    app = make_smart_app(
        tmp_path / "s.sqlite3", app_url="https://app.example.org", issuers=(issuer.iss,)
    )
    r = app.test_client().get(
        "/app/launch",
        query_string={"iss": issuer.iss},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["redirect_uri"] == ["https://app.example.org/app/callback"]


def test_issuers_without_a_redirect_url_do_not_start() -> None:
    with pytest.raises(ValueError, match="redirect_url"):
        SmartConfig(
            client_id="c",
            redirect_url=None,
            scopes="",
            scope_style="v2",
            client_secret=None,
            session_secret=b"0123456789abcdef",
            allowed_issuers=("https://ehr.example.org/fhir",),
        )
    with pytest.raises(SettingsError, match="SMART_REDIRECT_URL"):
        Settings(auth="none", smart_allowed_issuers=("https://ehr.example.org/fhir",))
    with pytest.raises(SettingsError, match="SMART_ALLOWED_ISSUERS"):
        Settings(
            auth="none",
            smart_allowed_issuers=("https://ehr.example.org/fhir#",),
            smart_redirect_url="https://app.example.org/app/callback",
        )


def test_only_the_allowed_ehrs_may_frame_the_app(tmp_path: Path) -> None:
    allowed = ("https://ehr.example.org/fhir/r4", "https://EHR2.example.org:8443/fhir")
    framed = make_smart_app(tmp_path / "a.sqlite3", issuers=allowed).test_client()
    alone = make_smart_app(tmp_path / "b.sqlite3").test_client()
    for path in ("/app/launch", "/app/view"):
        csp = framed.get(path).headers["Content-Security-Policy"]
        assert "frame-ancestors https://ehr.example.org https://ehr2.example.org:8443" in csp
        assert "frame-ancestors 'none'" in alone.get(path).headers["Content-Security-Policy"]


def test_the_session_id_changes_at_login(make_stack: StackFactory) -> None:
    stack = make_stack(auto_approve=True)
    with requests.Session() as http:
        r = http.get(f"{stack.ehr}/launch/smart-late-b", timeout=T, allow_redirects=False)
        r = http.get(r.headers["Location"], timeout=T, allow_redirects=False)  # app /launch
        before = http.cookies["relapse_smart_sid"]
        r = http.get(r.headers["Location"], timeout=T, allow_redirects=False)  # EHR authorize
        r = http.get(r.headers["Location"], timeout=T, allow_redirects=False)  # app /callback
        after = http.cookies["relapse_smart_sid"]
        page = http.get(f"{stack.app}/app/view", timeout=T)
    assert before != after
    assert page.status_code == 200
    # The id known before login (planted, or seen) opens nothing.
    stale = requests.get(f"{stack.app}/app/view", cookies={"relapse_smart_sid": before}, timeout=T)
    assert stale.status_code == 401
