"""The assembled service in jwt mode: audience from the configured URL, the lifetime setting."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path

import flask
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from service.app import create_app
from service.settings import Settings

ISS = "https://ehr.example.org"
PUBLIC_URL = "https://cds.example.org"
KEY = ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> flask.testing.FlaskClient:
    tmp = tmp_path_factory.mktemp("jwt")
    jwk = {**ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "k1"}
    (tmp / "keys.json").write_text(json.dumps({"keys": [jwk]}))
    (tmp / "issuers.json").write_text(
        json.dumps({"issuers": [{"iss": ISS, "jwks_file": "keys.json"}]})
    )
    settings = Settings(
        trusted_issuers=tmp / "issuers.json",
        public_url=PUBLIC_URL,
        database_url=f"sqlite:///{tmp / 'db.sqlite3'}",
        jwt_max_lifetime_seconds=120,
    )
    return create_app(settings).test_client()


def _get(client: flask.testing.FlaskClient, aud: str, lifetime: int) -> int:
    now = int(time.time())
    claims = {"iss": ISS, "aud": aud, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, KEY, algorithm="ES384", headers={"kid": "k1"})
    return client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code


def test_token_for_the_public_url_is_accepted(client: flask.testing.FlaskClient) -> None:
    assert _get(client, PUBLIC_URL + "/cds-services", 60) == 200


def test_token_for_the_request_host_is_refused(client: flask.testing.FlaskClient) -> None:
    # The test client's Host is localhost: the audience never follows it.
    assert _get(client, "http://localhost/cds-services", 60) == 401


def test_configured_lifetime_cap_applies(
    client: flask.testing.FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cds_hooks.auth")
    assert _get(client, PUBLIC_URL + "/cds-services", 300) == 401
    assert [r.getMessage() for r in caplog.records] == ["JWT refused: reason=lifetime"]


def test_jwt_mode_without_public_url_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        create_app(Settings(trusted_issuers=tmp_path / "issuers.json"))
