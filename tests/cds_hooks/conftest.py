"""Fixtures of the CDS Hooks protocol tests: keys, a loopback JWKS server, a tiny app."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import flask
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_hooks.auth import InMemoryJtiStore, JwtAuthenticator, load_trusted_issuers
from cds_hooks.blueprint import HooksConfig, create_blueprint
from cds_hooks.discovery import ServiceDefinition
from cds_hooks.feedback import FeedbackStore
from cds_hooks.models import Card, HookRequest, Source
from cds_hooks.prefetch import Prefetched

ISSUER = "https://ehr.example.org"
PUBLIC_URL = "https://cds.example.org"
FHIR_SERVER = "https://fhir.example.org"  # the one FHIR server the test issuer may name
PATIENT = {"resourceType": "Patient", "id": "p1"}


@dataclass
class JwksServer:
    """A real HTTP server on loopback; `documents` maps paths to JSON bodies."""

    base: str
    documents: dict[str, Any] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            body = state.documents.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token(ec_key: ec.EllipticCurvePrivateKey, jwks_server: JwksServer) -> TokenFactory:
    """Signs a CDS Hooks client JWT; keyword overrides replace (None removes) claims/headers."""

    def factory(
        *,
        key: Any = None,
        alg: str = "ES384",
        kid: str = "ec-1",
        audience: str = PUBLIC_URL + "/cds-services",
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "client-1",
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header: dict[str, Any] = {"kid": kid, "jku": jwks_server.base + "/jwks", "typ": "JWT"}
        header.update(headers or {})
        header = {k: v for k, v in header.items() if v is not None}
        return jwt.encode(
            payload, key if key is not None else ec_key, algorithm=alg, headers=header
        )

    return factory


@pytest.fixture
def issuers_file(
    tmp_path: Path,
    jwks_server: JwksServer,
    ec_key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
) -> Path:
    jwks_server.documents["/jwks"] = {
        "keys": [public_jwk(ec_key, "ec-1"), public_jwk(rsa_key, "rsa-1")]
    }
    path = tmp_path / "issuers.json"
    issuer = {"iss": ISSUER, "jku": [jwks_server.base + "/jwks"], "fhir_servers": [FHIR_SERVER]}
    path.write_text(json.dumps({"issuers": [issuer]}))
    return path


@pytest.fixture
def authenticator(issuers_file: Path) -> JwtAuthenticator:
    return JwtAuthenticator(
        load_trusted_issuers(issuers_file), requests.Session(), InMemoryJtiStore()
    )


def echo_handler(request: HookRequest, prefetched: Prefetched) -> Sequence[Card]:
    patients = prefetched.get("patient") or []
    return [
        Card(
            summary=f"{len(patients)} patient resource(s)",
            indicator="info",
            source=Source("Test service"),
            uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, request.hook_instance)),
        )
    ]


def failing_handler(request: HookRequest, prefetched: Prefetched) -> Sequence[Card]:
    raise RuntimeError("secret internals")


SERVICES = (
    ServiceDefinition(
        id="echo",
        hook="patient-view",
        title="Echo",
        description="Counts the prefetched patient",
        prefetch={"patient": "Patient/{{context.patientId}}"},
        handler=echo_handler,
        required_prefetch=frozenset({"patient"}),
    ),
    ServiceDefinition(
        id="broken",
        hook="patient-view",
        title="Broken",
        description="Always fails",
        prefetch={},
        handler=failing_handler,
    ),
)


@pytest.fixture
def feedback_store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")


@pytest.fixture
def app(authenticator: JwtAuthenticator, feedback_store: FeedbackStore) -> flask.Flask:
    application = flask.Flask(__name__)
    config = HooksConfig(
        authenticator=authenticator,
        feedback_store=feedback_store,
        session_factory=requests.Session,
        public_url=PUBLIC_URL,
        cors_origins=("https://ehr.example.org",),
        fhir_timeout=(1.0, 2.0),
        deadline_seconds=5.0,
        max_pages=5,
    )
    application.register_blueprint(create_blueprint(SERVICES, config))
    return application


def hook_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p1", "userId": "Practitioner/u1"},
        "prefetch": {"patient": PATIENT},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
