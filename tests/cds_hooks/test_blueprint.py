"""The endpoints end to end in a tiny Flask app with a dummy service."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import flask
import pytest
import requests
import responses
from flask.testing import FlaskClient

from cds_hooks.auth import JwtAuthenticator
from cds_hooks.blueprint import HooksConfig, create_blueprint
from cds_hooks.feedback import FeedbackStore
from cds_hooks.models import check_cards_response
from tests.cds_hooks.conftest import PUBLIC_URL, SERVICES, TokenFactory, hook_body

ORIGIN = "https://ehr.example.org"


@pytest.fixture
def client(app: flask.Flask) -> FlaskClient:
    return app.test_client()


def auth(make_token: TokenFactory, path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(audience=PUBLIC_URL + path)}"}


def test_discovery_lists_services(client: FlaskClient, make_token: TokenFactory) -> None:
    response = client.get("/cds-services", headers=auth(make_token, "/cds-services"))
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert services[0] == {
        "hook": "patient-view",
        "title": "Echo",
        "description": "Counts the prefetched patient",
        "id": "echo",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
    }
    assert "prefetch" not in services[1]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cds-services"),
        ("POST", "/cds-services/echo"),
        ("POST", "/cds-services/echo/feedback"),
    ],
)
def test_every_endpoint_requires_a_token(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method, json=hook_body())
    assert response.status_code == 401
    assert response.data == b""


def test_token_for_another_endpoint_is_refused(
    client: FlaskClient, make_token: TokenFactory
) -> None:
    response = client.post(
        "/cds-services/echo", json=hook_body(), headers=auth(make_token, "/cds-services")
    )
    assert response.status_code == 401


def test_hook_call_with_prefetch_returns_valid_cards(
    client: FlaskClient, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    body = hook_body()
    with caplog.at_level(logging.INFO, logger="cds_hooks"):
        response = client.post(
            "/cds-services/echo", json=body, headers=auth(make_token, "/cds-services/echo")
        )
    assert response.status_code == 200
    payload = response.get_json()
    assert check_cards_response(payload) == []
    assert payload["cards"][0]["summary"] == "1 patient resource(s)"
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert body["hookInstance"] in logged
    assert "status=200" in logged
    assert "p1" not in logged
    assert "Bearer" not in logged


def test_a_hook_instance_that_is_not_a_uuid_is_400_and_never_logged(
    client: FlaskClient, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    smuggled = "Jane Doe, MRN 0012345\n" + "x" * 10_000
    with caplog.at_level(logging.DEBUG, logger="cds_hooks"):
        response = client.post(
            "/cds-services/echo",
            json=hook_body(hookInstance=smuggled),
            headers=auth(make_token, "/cds-services/echo"),
        )
    assert response.status_code == 400
    assert response.get_json()["field"] == "hookInstance"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "Jane Doe" not in logged
    assert "hookInstance=- status=400" in logged


def test_the_hook_instance_is_logged_normalised(
    client: FlaskClient, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    instance = str(uuid.uuid4())
    with caplog.at_level(logging.INFO, logger="cds_hooks"):
        client.post(
            "/cds-services/echo",
            json=hook_body(hookInstance=f"urn:uuid:{instance.upper()}"),
            headers=auth(make_token, "/cds-services/echo"),
        )
    assert f"hookInstance={instance} status=200" in " ".join(r.getMessage() for r in caplog.records)


@responses.activate
def test_absent_prefetch_is_fetched_with_the_ehr_token(
    client: FlaskClient, make_token: TokenFactory
) -> None:
    responses.add_passthru("http://127.0.0.1")  # the loopback JWKS server
    responses.get("https://fhir.example.org/Patient/p1", json={"resourceType": "Patient"})
    body = hook_body(
        prefetch=None,
        fhirServer="https://fhir.example.org",
        fhirAuthorization={
            "access_token": "ehr-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/Patient.read",
            "subject": "cds",
        },
    )
    response = client.post(
        "/cds-services/echo", json=body, headers=auth(make_token, "/cds-services/echo")
    )
    assert response.status_code == 200
    fhir_calls = [c for c in responses.calls if (c.request.url or "").startswith("https://fhir")]
    assert fhir_calls[0].request.headers["Authorization"] == "Bearer ehr-token"


def test_missing_required_prefetch_is_412_operation_outcome(
    client: FlaskClient, make_token: TokenFactory
) -> None:
    response = client.post(
        "/cds-services/echo",
        json=hook_body(prefetch=None),
        headers=auth(make_token, "/cds-services/echo"),
    )
    assert response.status_code == 412
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"
    assert "'patient'" in outcome["issue"][0]["diagnostics"]


def test_unknown_service_is_404(client: FlaskClient, make_token: TokenFactory) -> None:
    response = client.post(
        "/cds-services/nope", json=hook_body(), headers=auth(make_token, "/cds-services/nope")
    )
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_non_json_body_is_415(client: FlaskClient, make_token: TokenFactory) -> None:
    response = client.post(
        "/cds-services/echo", data="hello", headers=auth(make_token, "/cds-services/echo")
    )
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"


def test_broken_json_is_400(client: FlaskClient, make_token: TokenFactory) -> None:
    response = client.post(
        "/cds-services/echo",
        data="{",
        content_type="application/json",
        headers=auth(make_token, "/cds-services/echo"),
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_invalid_request_names_the_field(client: FlaskClient, make_token: TokenFactory) -> None:
    response = client.post(
        "/cds-services/echo",
        json=hook_body(context={"patientId": "../../x", "userId": "Practitioner/1"}),
        headers=auth(make_token, "/cds-services/echo"),
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "bad_request",
        "field": "context.patientId",
        "message": "must be a FHIR id ([A-Za-z0-9-.]{1,64}, not . or ..)",
    }


def test_wrong_hook_for_the_service_is_400(client: FlaskClient, make_token: TokenFactory) -> None:
    response = client.post(
        "/cds-services/echo",
        json=hook_body(hook="order-sign"),
        headers=auth(make_token, "/cds-services/echo"),
    )
    assert response.get_json()["field"] == "hook"


def test_handler_errors_are_500_without_internals(
    client: FlaskClient, make_token: TokenFactory
) -> None:
    response = client.post(
        "/cds-services/broken", json=hook_body(), headers=auth(make_token, "/cds-services/broken")
    )
    assert response.status_code == 500
    assert b"secret internals" not in response.data
    assert response.get_json()["error"] == "internal_error"


def test_preflight_needs_no_token_and_gets_cors_headers(client: FlaskClient) -> None:
    response = client.options(
        "/cds-services/echo",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"


def test_unlisted_origin_gets_no_cors_headers(client: FlaskClient) -> None:
    response = client.options("/cds-services/echo", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_errors_carry_cors_headers_too(client: FlaskClient) -> None:
    response = client.get("/cds-services", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def _feedback(card: str) -> dict[str, Any]:
    return {
        "feedback": [
            {
                "card": card,
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-22T21:30:00-06:00",
            }
        ]
    }


def _issued_card(client: FlaskClient, make_token: TokenFactory) -> str:
    """The uuid of a card the echo service answers with."""
    response = client.post(
        "/cds-services/echo", json=hook_body(), headers=auth(make_token, "/cds-services/echo")
    )
    assert response.status_code == 200
    card: str = response.get_json()["cards"][0]["uuid"]
    return card


def test_feedback_is_stored_once(
    client: FlaskClient, make_token: TokenFactory, feedback_store: FeedbackStore
) -> None:
    body = _feedback(_issued_card(client, make_token))
    path = "/cds-services/echo/feedback"
    for _ in range(2):
        response = client.post(path, json=body, headers=auth(make_token, path))
        assert response.status_code == 200
    assert feedback_store.count() == 1


def test_one_card_written_three_ways_is_stored_once(
    client: FlaskClient, make_token: TokenFactory, feedback_store: FeedbackStore
) -> None:
    card = _issued_card(client, make_token)
    path = "/cds-services/echo/feedback"
    for written in (card, card.upper(), f"urn:uuid:{card}"):
        response = client.post(path, json=_feedback(written), headers=auth(make_token, path))
        assert response.status_code == 200
    assert feedback_store.count() == 1


def test_feedback_for_a_card_never_issued_is_400(
    client: FlaskClient, make_token: TokenFactory, feedback_store: FeedbackStore
) -> None:
    path = "/cds-services/echo/feedback"
    response = client.post(path, json=_feedback(str(uuid.uuid4())), headers=auth(make_token, path))
    assert response.status_code == 400
    assert response.get_json()["field"] == "feedback[0].card"
    assert feedback_store.count() == 0


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("data", "field"),
    [
        # Each was a 500 before: an OverflowError (past the last UTC instant), a RecursionError.
        (
            json.dumps(_feedback(str(uuid.uuid4()))).replace(
                "2026-11-22T21:30:00-06:00", "9999-12-31T23:59:59-23:59"
            ),
            "feedback[0].outcomeTimestamp",
        ),
        ('{"feedback": ' + DEEP + "}", "body"),
    ],
)
def test_feedback_that_fails_type_checks_is_400(
    client: FlaskClient, make_token: TokenFactory, data: str, field: str
) -> None:
    path = "/cds-services/echo/feedback"
    response = client.post(
        path, data=data, content_type="application/json", headers=auth(make_token, path)
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Each was a 500 before.
        (
            hook_body(prefetch={"patient": {"resourceType": "Bundle", "entry": 5}}),
            "prefetch.patient.entry",
        ),
        (
            hook_body(prefetch={"patient": {"resourceType": "OperationOutcome", "issue": 5}}),
            "prefetch.patient.issue",
        ),
        # Was 200: "." searched every patient.
        (hook_body(context={"patientId": ".", "userId": "Practitioner/u1"}), "context.patientId"),
        (hook_body(hookInstance="<script>" * 1000), "hookInstance"),
    ],
)
def test_hook_calls_that_fail_type_checks_are_400(
    client: FlaskClient, make_token: TokenFactory, body: dict[str, Any], field: str
) -> None:
    path = "/cds-services/echo"
    response = client.post(path, json=body, headers=auth(make_token, path))
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_deeply_nested_hook_call_is_400(client: FlaskClient, make_token: TokenFactory) -> None:
    nested: dict[str, Any] = {"url": "http://example.org/x", "valueString": "x"}
    for _ in range(300):  # parses, but broke recursive code later
        nested = {"url": "http://example.org/x", "extension": [nested]}
    patient = {"resourceType": "Patient", "id": "p1", "extension": [nested]}
    path = "/cds-services/echo"
    body = json.dumps(hook_body(prefetch={"patient": patient}))
    response = client.post(
        path, data=body, content_type="application/json", headers=auth(make_token, path)
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == "nested more than 64 levels deep"


def test_bad_feedback_is_400(client: FlaskClient, make_token: TokenFactory) -> None:
    path = "/cds-services/echo/feedback"
    response = client.post(path, json=_feedback("x"), headers=auth(make_token, path))
    assert response.status_code == 400
    assert response.get_json()["field"] == "feedback[0].card"


def test_feedback_for_unknown_service_is_404(client: FlaskClient, make_token: TokenFactory) -> None:
    path = "/cds-services/nope/feedback"
    response = client.post(path, json=_feedback(str(uuid.uuid4())), headers=auth(make_token, path))
    assert response.status_code == 404


def test_an_authenticator_without_public_url_is_refused(
    authenticator: JwtAuthenticator, feedback_store: FeedbackStore
) -> None:
    # Without it the audience would be the request's Host, which any caller chooses.
    config = HooksConfig(
        authenticator, feedback_store, requests.Session, None, (), (1.0, 1.0), 1.0, 1
    )
    with pytest.raises(ValueError, match="public_url"):
        create_blueprint(SERVICES, config)


def test_audience_is_the_public_url_whatever_the_host(
    client: FlaskClient, make_token: TokenFactory
) -> None:
    minted_for_host = make_token(audience="http://other.example/cds-services")
    response = client.get(
        "/cds-services",
        headers={"Authorization": f"Bearer {minted_for_host}", "Host": "other.example"},
    )
    assert response.status_code == 401


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2ln"


@pytest.mark.parametrize(
    "token",
    [
        lambda make: _unsigned({"alg": ["ES384"], "kid": "ec-1"}, {"exp": 1, "jti": "1"}),
        lambda make: make(audience=PUBLIC_URL + "/cds-services", tenant=["t1"]),
        lambda make: make(audience=PUBLIC_URL + "/cds-services", jti="j" * 300),
    ],
    ids=["alg-list", "tenant-list", "jti-long"],
)
def test_odd_jwt_types_are_401_with_an_empty_body(
    client: FlaskClient, make_token: TokenFactory, token: Callable[[TokenFactory], str]
) -> None:
    headers = {"Authorization": f"Bearer {token(make_token)}"}
    response = client.get("/cds-services", headers=headers)
    assert response.status_code == 401
    assert response.data == b""
