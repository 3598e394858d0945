"""A hook call is bounded in CPU as in I/O: resource count cap, no assessment past the deadline."""

from __future__ import annotations

import flask
import requests
from werkzeug.test import TestResponse

from cds_hooks.auth import JwtAuthenticator
from cds_hooks.blueprint import HooksConfig, create_blueprint
from cds_hooks.feedback import FeedbackStore
from tests.cds_hooks.conftest import PATIENT, PUBLIC_URL, SERVICES, TokenFactory, hook_body


def client_with(
    authenticator: JwtAuthenticator, store: FeedbackStore, **limits: float
) -> flask.testing.FlaskClient:
    app = flask.Flask(__name__)
    config = HooksConfig(
        authenticator=authenticator,
        feedback_store=store,
        session_factory=requests.Session,
        public_url=PUBLIC_URL,
        cors_origins=(),
        fhir_timeout=(1.0, 2.0),
        deadline_seconds=limits.get("deadline_seconds", 5.0),
        max_pages=5,
        max_resources=int(limits.get("max_resources", 20_000)),
    )
    app.register_blueprint(create_blueprint(SERVICES, config))
    return app.test_client()


def call(client: flask.testing.FlaskClient, make_token: TokenFactory, n: int) -> TestResponse:
    patients = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": PATIENT} for _ in range(n)],
    }
    token = make_token(audience=PUBLIC_URL + "/cds-services/echo")
    return client.post(
        "/cds-services/echo",
        json=hook_body(prefetch={"patient": patients}),
        headers={"Authorization": f"Bearer {token}"},
    )


def test_more_resources_than_the_cap_is_413_with_a_json_body(
    authenticator: JwtAuthenticator, feedback_store: FeedbackStore, make_token: TokenFactory
) -> None:
    client = client_with(authenticator, feedback_store, max_resources=3)
    assert call(client, make_token, 3).status_code == 200
    answer = call(client, make_token, 4)
    assert answer.status_code == 413
    assert answer.get_json() == {
        "error": "too_large",
        "field": "prefetch",
        "message": "more than 3 resources in one call",
    }


def test_no_assessment_is_started_past_the_deadline(
    authenticator: JwtAuthenticator, feedback_store: FeedbackStore, make_token: TokenFactory
) -> None:
    client = client_with(authenticator, feedback_store, deadline_seconds=1e-9)
    answer = call(client, make_token, 1)
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "deadline_passed"
