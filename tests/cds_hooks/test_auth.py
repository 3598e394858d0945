"""JWT client authentication against keys served by a real loopback JWKS server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_hooks.auth import (
    InMemoryJtiStore,
    JwtAuthenticator,
    SqlJtiStore,
    load_trusted_issuers,
)
from cds_hooks.errors import Unauthorized
from cds_hooks.feedback import FeedbackStore
from tests.cds_hooks.conftest import ISSUER, PUBLIC_URL, JwksServer, TokenFactory, public_jwk

AUD = PUBLIC_URL + "/cds-services"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_es384_token_is_accepted(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    claims = authenticator.authenticate(bearer(make_token()), AUD)
    assert claims["iss"] == ISSUER


def test_epic_style_rs384_token_with_nbf_and_sub_is_accepted(
    authenticator: JwtAuthenticator, make_token: TokenFactory, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    token = make_token(key=rsa_key, alg="RS384", kid="rsa-1", nbf=now, sub="epic-client-id")
    claims = authenticator.authenticate(bearer(token), AUD)
    assert claims["sub"] == "epic-client-id"


def test_rsa_key_without_alg_member_verifies_rs384(
    authenticator: JwtAuthenticator,
    make_token: TokenFactory,
    rsa_key: rsa.RSAPrivateKey,
    jwks_server: JwksServer,
) -> None:
    jwk = public_jwk(rsa_key, "rsa-1")
    jwk.pop("alg", None)
    jwks_server.documents["/jwks"] = {"keys": [jwk]}
    token = make_token(key=rsa_key, alg="RS384", kid="rsa-1")
    assert authenticator.authenticate(bearer(token), AUD)["iss"] == ISSUER


def _reject(authenticator: JwtAuthenticator, header: str | None, match: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticator.authenticate(header, AUD)
    assert match in caught.value.reason


def test_alg_none_is_rejected(authenticator: JwtAuthenticator) -> None:
    header = _b64(json.dumps({"alg": "none", "kid": "ec-1"}).encode())
    claims = {"iss": ISSUER, "aud": AUD, "exp": int(time.time()) + 60, "jti": "1"}
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    _reject(authenticator, bearer(token), "not allowed")


def test_hs384_is_rejected_even_with_the_public_key_as_secret(
    authenticator: JwtAuthenticator, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # Hand-made: PyJWT itself refuses to sign with a public key as HMAC secret.
    secret = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS384", "kid": "ec-1"}).encode())
    claims = {"iss": ISSUER, "aud": AUD, "exp": int(time.time()) + 60, "jti": "1"}
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha384).digest()
    _reject(authenticator, bearer(f"{header}.{payload}.{_b64(signature)}"), "not allowed")


def test_es256_is_rejected(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    token = make_token(key=ec.generate_private_key(ec.SECP256R1()), alg="ES256")
    _reject(authenticator, bearer(token), "not allowed")


def test_unknown_issuer_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    _reject(authenticator, bearer(make_token(iss="https://evil.example")), "untrusted issuer")


def test_jku_not_allowed_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    token = make_token(headers={"jku": jwks_server.base + "/other-jwks"})
    _reject(authenticator, bearer(token), "jku not allowed")
    assert jwks_server.hits == []


def test_unknown_kid_is_rejected_after_one_refetch(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    authenticator.authenticate(bearer(make_token()), AUD)
    _reject(authenticator, bearer(make_token(kid="nope")), "unknown kid")
    assert jwks_server.hits == ["/jwks", "/jwks"]


def test_rotated_key_is_found_by_refetching(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    authenticator.authenticate(bearer(make_token()), AUD)
    new_key = ec.generate_private_key(ec.SECP384R1())
    jwks_server.documents["/jwks"] = {"keys": [public_jwk(new_key, "ec-2")]}
    assert authenticator.authenticate(bearer(make_token(key=new_key, kid="ec-2")), AUD)


def test_jwks_is_cached(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    authenticator.authenticate(bearer(make_token()), AUD)
    authenticator.authenticate(bearer(make_token()), AUD)
    assert jwks_server.hits == ["/jwks"]


def test_wrong_audience_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    token = make_token(audience=PUBLIC_URL + "/cds-services/other")
    _reject(authenticator, bearer(token), "Audience")


def test_expired_token_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    past = int(time.time()) - 3600
    _reject(authenticator, bearer(make_token(iat=past, exp=past + 300)), "expired")


def test_missing_exp_is_rejected(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    _reject(authenticator, bearer(make_token(exp=None)), "exp")


def test_nbf_in_future_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    _reject(authenticator, bearer(make_token(nbf=int(time.time()) + 600)), "not yet valid")


def test_iat_in_future_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    with pytest.raises(Unauthorized):
        authenticator.authenticate(bearer(make_token(iat=int(time.time()) + 600)), AUD)


def test_missing_jti_is_rejected(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    _reject(authenticator, bearer(make_token(jti=None)), "jti")


def test_replayed_jti_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    token = make_token()
    authenticator.authenticate(bearer(token), AUD)
    _reject(authenticator, bearer(token), "replayed jti")


def test_bad_signature_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    impostor = ec.generate_private_key(ec.SECP384R1())
    _reject(authenticator, bearer(make_token(key=impostor)), "Signature")


def test_missing_header_is_rejected(authenticator: JwtAuthenticator) -> None:
    _reject(authenticator, None, "missing")


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"])
def test_malformed_header_is_rejected(authenticator: JwtAuthenticator, header: str) -> None:
    _reject(authenticator, header, "malformed")


def _tenant_authenticator(tmp_path: Path, jwks_server: JwksServer) -> JwtAuthenticator:
    path = tmp_path / "tenants.json"
    path.write_text(
        json.dumps(
            {"issuers": [{"iss": ISSUER, "jku": [jwks_server.base + "/jwks"], "tenants": ["t1"]}]}
        )
    )
    return JwtAuthenticator(load_trusted_issuers(path), requests.Session(), InMemoryJtiStore())


def test_wrong_tenant_is_rejected(
    tmp_path: Path, issuers_file: Path, jwks_server: JwksServer, make_token: TokenFactory
) -> None:
    auth = _tenant_authenticator(tmp_path, jwks_server)
    _reject(auth, bearer(make_token(tenant="t2")), "tenant")
    _reject(auth, bearer(make_token()), "tenant")
    assert auth.authenticate(bearer(make_token(tenant="t1")), AUD)


def test_pinned_jwks_file_is_used_without_network(
    tmp_path: Path,
    ec_key: ec.EllipticCurvePrivateKey,
    jwks_server: JwksServer,
    make_token: TokenFactory,
) -> None:
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [public_jwk(ec_key, "ec-1")]}))
    path = tmp_path / "pinned.json"
    path.write_text(
        json.dumps(
            {
                "issuers": [
                    {"iss": ISSUER, "jku": [jwks_server.base + "/jwks"], "jwks_file": "keys.json"}
                ]
            }
        )
    )
    auth = JwtAuthenticator(load_trusted_issuers(path), requests.Session(), InMemoryJtiStore())
    assert auth.authenticate(bearer(make_token()), AUD)
    assert jwks_server.hits == []


def test_sql_jti_store_is_shared_between_authenticators(
    issuers_file: Path, make_token: TokenFactory, feedback_store: FeedbackStore
) -> None:
    issuers = load_trusted_issuers(issuers_file)
    first = JwtAuthenticator(issuers, requests.Session(), SqlJtiStore(feedback_store.engine))
    second = JwtAuthenticator(issuers, requests.Session(), SqlJtiStore(feedback_store.engine))
    token = make_token()
    first.authenticate(bearer(token), AUD)
    _reject(second, bearer(token), "replayed jti")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read"),
        ({"issuers": []}, "non-empty list"),
        ({"issuers": [{"jku": ["https://x"]}]}, "iss"),
        ({"issuers": [{"iss": "a", "jku": ["ftp://x"]}]}, "jku"),
        ({"issuers": [{"iss": "a"}]}, "jku"),
        ({"issuers": [{"iss": "a", "jwks_file": "missing.json"}]}, "jwks_file"),
        ({"issuers": [{"iss": "a", "jku": ["https://x"], "tenants": "t"}]}, "tenants"),
        ({"issuers": [{"iss": "a", "jku": ["https://x"]}, {"iss": "a", "jku": []}]}, "twice"),
    ],
)
def test_bad_issuer_files_raise_clear_errors(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError, match=message):
        load_trusted_issuers(path)
