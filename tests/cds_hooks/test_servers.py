"""Which FHIR servers a hook may name: the allowlist and the 403 that protects the token."""

from __future__ import annotations

import json
from pathlib import Path

import flask
import pytest
import requests
import responses
from werkzeug.test import TestResponse

from cds_hooks.auth import JwtAuthenticator, NoAuth, load_trusted_issuers
from cds_hooks.blueprint import HooksConfig, create_blueprint
from cds_hooks.feedback import FeedbackStore
from cds_hooks.servers import LOOPBACK, FhirServers, normalise_base
from tests.cds_hooks.conftest import (
    FHIR_SERVER,
    ISSUER,
    PUBLIC_URL,
    SERVICES,
    TokenFactory,
    hook_body,
)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://fhir.example.org", "https://fhir.example.org"),
        ("HTTPS://FHIR.Example.org:443/r4/", "https://fhir.example.org/r4"),
        ("http://127.0.0.1:80/fhir", "http://127.0.0.1/fhir"),
        ("http://[::1]:8080/fhir", "http://[::1]:8080/fhir"),
        ("https://user:pw@fhir.example.org", None),
        ("https://fhir.example.org/r4?x=1", None),
        ("https://fhir.example.org/r4#", None),
        ("https://fhir.example.org:99999", None),
        ("ftp://fhir.example.org", None),
        ("fhir.example.org/r4", None),
    ],
)
def test_bases_are_normalised_or_refused(url: str, base: str | None) -> None:
    assert normalise_base(url) == base


def test_listed_servers_match_after_normalising_and_nothing_else() -> None:
    servers = FhirServers.of(["https://ehr.example.org/fhir/"], "test")
    assert servers.allows("https://EHR.example.org:443/fhir")
    assert not servers.allows("https://ehr.example.org/fhir/other")
    assert not servers.allows("https://ehr.example.org.evil.test/fhir")
    assert not servers.allows("http://ehr.example.org/fhir")  # another scheme is another server
    assert not servers.allows("http://127.0.0.1/fhir")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8081/fhir", True),
        ("http://localhost:8081/fhir", True),
        ("http://[::1]/fhir", True),
        ("http://2130706433/fhir", False),  # 127.0.0.1 spelled as a number
        ("http://0x7f.1/fhir", False),
        ("http://127.1/fhir", False),
        ("http://169.254.169.254/latest", False),  # cloud metadata
        ("http://user:pw@127.0.0.1/fhir", False),
        ("https://fhir.example.org", False),
    ],
)
def test_loopback_default_admits_canonical_loopback_only(url: str, allowed: bool) -> None:
    assert LOOPBACK.allows(url) is allowed


def test_a_bad_fhir_servers_entry_stops_loading(tmp_path: Path) -> None:
    path = tmp_path / "issuers.json"
    entry = {"iss": ISSUER, "jku": ["https://ehr.example.org/jwks"], "fhir_servers": ["x"]}
    path.write_text(json.dumps({"issuers": [entry]}))
    with pytest.raises(ValueError, match=r"issuers\[0\]\.fhir_servers"):
        load_trusted_issuers(path)


def _client(authenticator: JwtAuthenticator | NoAuth, tmp_path: Path) -> flask.testing.FlaskClient:
    app = flask.Flask(__name__)
    config = HooksConfig(
        authenticator=authenticator,
        feedback_store=FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}"),
        session_factory=requests.Session,
        public_url=PUBLIC_URL,
        cors_origins=(),
        fhir_timeout=(1.0, 2.0),
        deadline_seconds=5.0,
        max_pages=5,
    )
    app.register_blueprint(create_blueprint(SERVICES, config))
    return app.test_client()


def _assert_forbidden(response: TestResponse) -> None:
    assert response.status_code == 403
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"


@responses.activate
@pytest.mark.parametrize(
    "server",
    ["http://169.254.169.254/latest", "https://fhir.example.org.evil.test", "http://127.0.0.1:9"],
)
def test_an_issuer_may_name_only_its_fhir_servers(
    authenticator: JwtAuthenticator, make_token: TokenFactory, tmp_path: Path, server: str
) -> None:
    """risk-schemes.md §10: each trusted issuer lists its allowed fhirServer bases; any other
    gets 403 before a connection is made."""
    responses.add_passthru("http://127.0.0.1")  # the loopback JWKS server
    token = make_token(audience=PUBLIC_URL + "/cds-services/echo")
    response = _client(authenticator, tmp_path).post(
        "/cds-services/echo",
        json=hook_body(prefetch=None, fhirServer=server),
        headers={"Authorization": f"Bearer {token}"},
    )
    _assert_forbidden(response)
    assert [c.request.url for c in responses.calls if "/jwks" not in str(c.request.url)] == []


@responses.activate
def test_a_listed_server_is_read_in_any_spelling(
    authenticator: JwtAuthenticator, make_token: TokenFactory, tmp_path: Path
) -> None:
    responses.add_passthru("http://127.0.0.1")
    responses.get(f"{FHIR_SERVER}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    token = make_token(audience=PUBLIC_URL + "/cds-services/echo")
    response = _client(authenticator, tmp_path).post(
        "/cds-services/echo",
        json=hook_body(prefetch=None, fhirServer=FHIR_SERVER.upper() + ":443/"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_without_authentication_only_loopback_servers_by_default(tmp_path: Path) -> None:
    client = _client(NoAuth(), tmp_path)
    for server in ("https://fhir.example.org", "http://2130706433/fhir"):
        _assert_forbidden(client.post("/cds-services/echo", json=hook_body(fhirServer=server)))
    local = client.post("/cds-services/echo", json=hook_body(fhirServer="http://127.0.0.1:9/f"))
    assert local.status_code == 200  # the patient was prefetched: nothing is read


def test_without_authentication_the_configured_servers_replace_loopback(tmp_path: Path) -> None:
    client = _client(NoAuth(FhirServers.of([FHIR_SERVER], "test")), tmp_path)
    _assert_forbidden(
        client.post("/cds-services/echo", json=hook_body(fhirServer="http://127.0.0.1:9/f"))
    )
    ok = client.post("/cds-services/echo", json=hook_body(fhirServer=FHIR_SERVER))
    assert ok.status_code == 200
