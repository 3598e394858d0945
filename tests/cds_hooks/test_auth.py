"""JWT client authentication against keys served by a real loopback JWKS server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_hooks.auth import (
    InMemoryJtiStore,
    JwtAuthenticator,
    SqlJtiStore,
    TokenRefused,
    load_trusted_issuers,
)
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


def _reject(authenticator: JwtAuthenticator, header: str | None, code: str) -> None:
    with pytest.raises(TokenRefused) as caught:
        authenticator.authenticate(header, AUD)
    assert caught.value.code == code, caught.value.reason


def test_alg_none_is_rejected(authenticator: JwtAuthenticator) -> None:
    header = _b64(json.dumps({"alg": "none", "kid": "ec-1"}).encode())
    claims = {"iss": ISSUER, "aud": AUD, "exp": int(time.time()) + 60, "jti": "1"}
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    _reject(authenticator, bearer(token), "alg")


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
    _reject(authenticator, bearer(f"{header}.{payload}.{_b64(signature)}"), "alg")


def test_es256_is_rejected(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    token = make_token(key=ec.generate_private_key(ec.SECP256R1()), alg="ES256")
    _reject(authenticator, bearer(token), "alg")


def test_unknown_issuer_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    _reject(authenticator, bearer(make_token(iss="https://evil.example")), "iss")


def test_jku_not_allowed_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    token = make_token(headers={"jku": jwks_server.base + "/other-jwks"})
    _reject(authenticator, bearer(token), "jku-not-allowed")
    assert jwks_server.hits == []


def test_unknown_kid_is_rejected_after_one_refetch(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    authenticator.authenticate(bearer(make_token()), AUD)
    _reject(authenticator, bearer(make_token(kid="nope")), "kid-unknown")
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
    _reject(authenticator, bearer(token), "aud")


def test_expired_token_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    past = int(time.time()) - 3600
    _reject(authenticator, bearer(make_token(iat=past, exp=past + 300)), "exp")


def test_missing_exp_is_rejected(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    _reject(authenticator, bearer(make_token(exp=None)), "exp")


def test_nbf_in_future_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    _reject(authenticator, bearer(make_token(nbf=int(time.time()) + 600)), "nbf")


def test_iat_in_future_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    _reject(authenticator, bearer(make_token(iat=int(time.time()) + 600)), "iat")


def test_missing_jti_is_rejected(authenticator: JwtAuthenticator, make_token: TokenFactory) -> None:
    _reject(authenticator, bearer(make_token(jti=None)), "jti")


def test_replayed_jti_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    token = make_token()
    authenticator.authenticate(bearer(token), AUD)
    _reject(authenticator, bearer(token), "replay")


def test_bad_signature_is_rejected(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    impostor = ec.generate_private_key(ec.SECP384R1())
    _reject(authenticator, bearer(make_token(key=impostor)), "signature")


def test_missing_header_is_rejected(authenticator: JwtAuthenticator) -> None:
    _reject(authenticator, None, "header")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Basic abc", "header"),
        ("Bearer", "header"),
        ("Bearer not-a-jwt", "header"),
        ("Bearer a.b.c", "malformed"),
    ],
)
def test_malformed_header_is_rejected(
    authenticator: JwtAuthenticator, header: str, code: str
) -> None:
    _reject(authenticator, header, code)


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
    _reject(second, bearer(token), "replay")


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


# --- a pinned key set and the token's own jku (issue 13) ----------------------------------


def _pinned_authenticator(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> JwtAuthenticator:
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [public_jwk(ec_key, "ec-1")]}))
    path = tmp_path / "pinned-only.json"
    path.write_text(json.dumps({"issuers": [{"iss": ISSUER, "jwks_file": "keys.json"}]}))
    return JwtAuthenticator(load_trusted_issuers(path), requests.Session(), InMemoryJtiStore())


@pytest.mark.parametrize(
    "jku", [None, ISSUER + "/.well-known/jwks.json", ISSUER.upper() + "/keys"], ids=str
)
def test_pinned_issuer_accepts_no_jku_or_its_own_unlisted_jku(
    tmp_path: Path,
    ec_key: ec.EllipticCurvePrivateKey,
    jwks_server: JwksServer,
    make_token: TokenFactory,
    jku: str | None,
) -> None:
    # As the CDS Hooks sandbox signs: a jku on its own origin, pinned here without listing it.
    auth = _pinned_authenticator(tmp_path, ec_key)
    assert auth.authenticate(bearer(make_token(headers={"jku": jku})), AUD)["iss"] == ISSUER
    assert jwks_server.hits == []


@pytest.mark.parametrize(
    "jku",
    [
        "https://evil.example/.well-known/jwks.json",
        "https://ehr.example.org.evil.example/jwks",
        "https://user@ehr.example.org/jwks",
        "http://ehr.example.org/jwks",
        "/relative/jwks",
        ["https://ehr.example.org/jwks"],
    ],
    ids=str,
)
def test_pinned_issuer_still_refuses_a_foreign_jku(
    tmp_path: Path,
    ec_key: ec.EllipticCurvePrivateKey,
    jwks_server: JwksServer,
    make_token: TokenFactory,
    jku: object,
) -> None:
    auth = _pinned_authenticator(tmp_path, ec_key)
    _reject(auth, bearer(make_token(headers={"jku": jku})), "jku-not-allowed")
    assert jwks_server.hits == []


def test_fetching_issuer_does_not_fetch_an_unlisted_jku_on_its_origin(
    authenticator: JwtAuthenticator, make_token: TokenFactory, jwks_server: JwksServer
) -> None:
    token = make_token(headers={"jku": ISSUER + "/.well-known/jwks.json"})
    _reject(authenticator, bearer(token), "jku-not-allowed")
    assert jwks_server.hits == []


# --- header and claim types: 401, never 500 (issue 10) ------------------------------------


def _signed(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], claims: Any) -> str:
    """A token PyJWT would not make (odd JSON types), really signed with `key`."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA384).sign(
        f"{head}.{body}".encode(), key
    )
    return f"{head}.{body}.{_b64(signature)}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUD,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        (({"alg": ["ES384"]}, {}), "alg"),
        (({"alg": {"ES384": 1}}, {}), "alg"),
        (({"alg": None}, {}), "alg"),
        (({}, {"tenant": ["t1"]}), "tenant"),
        (({}, {"tenant": {"id": "t1"}}), "tenant"),
        (({}, {"jti": ["a"]}), "jti"),
        (({}, {"jti": 12345}), "jti"),
        (({}, {"jti": ""}), "jti"),
        (({}, {"jti": "x" * 257}), "jti"),
        (({}, {"jti": "a\x00b"}), "jti"),
        (({}, {"jti": "a\ud800b"}), "jti"),
        # Fixed numbers, not the clock: the ids (repr) must be the same in every xdist worker.
        (({}, {"exp": "4102444800"}), "exp"),
        (({}, {"exp": True}), "exp"),
        (({}, {"exp": float("nan")}), "exp"),
        (({}, {"exp": 1e400}), "exp"),
        (({}, {"exp": [1]}), "exp"),
        (({}, {"iat": "1767225600"}), "iat"),
        (({}, {"nbf": [0]}), "nbf"),
        (({}, {"iss": [ISSUER]}), "iss"),
        (({}, {"aud": {"url": AUD}}), "aud"),
        (({}, {"sub": ["client"]}), "sub"),
    ],
    ids=repr,
)
def test_odd_header_and_claim_types_are_refused(
    tmp_path: Path,
    jwks_server: JwksServer,
    ec_key: ec.EllipticCurvePrivateKey,
    parts: tuple[dict[str, Any], dict[str, Any]],
    code: str,
) -> None:
    header, claims = parts
    auth = _tenant_authenticator(tmp_path, jwks_server)
    jwks_server.documents["/jwks"] = {"keys": [public_jwk(ec_key, "ec-1")]}
    token = _signed(
        ec_key, {"alg": "ES384", "kid": "ec-1", **header}, _claims(**{"tenant": "t1", **claims})
    )
    _reject(auth, bearer(token), code)


def test_well_typed_signed_token_passes_the_hand_made_path(
    tmp_path: Path, jwks_server: JwksServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # The parametrized refusals above are for the odd value, not for how the token was made.
    auth = _tenant_authenticator(tmp_path, jwks_server)
    jwks_server.documents["/jwks"] = {"keys": [public_jwk(ec_key, "ec-1")]}
    token = _signed(ec_key, {"alg": "ES384", "kid": "ec-1"}, _claims(tenant="t1", jti="x" * 256))
    assert auth.authenticate(bearer(token), AUD)["jti"] == "x" * 256


def test_deeply_nested_payload_is_refused(authenticator: JwtAuthenticator) -> None:
    header = _b64(json.dumps({"alg": "ES384", "kid": "ec-1"}).encode())
    payload = _b64(b"[" * 100_000 + b"]" * 100_000)
    _reject(authenticator, bearer(f"{header}.{payload}.{_b64(b'x')}"), "malformed")


# --- lifetime cap (issue 10) ---------------------------------------------------------------


def test_token_living_longer_than_an_hour_is_refused(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    now = int(time.time())
    assert authenticator.authenticate(bearer(make_token(iat=now, exp=now + 3600)), AUD)
    _reject(authenticator, bearer(make_token(iat=now, exp=now + 3601)), "lifetime")
    _reject(authenticator, bearer(make_token(iat=now - 100, exp=now + 86400 * 365)), "lifetime")


def test_lifetime_without_iat_counts_from_now(
    authenticator: JwtAuthenticator, make_token: TokenFactory
) -> None:
    now = int(time.time())
    assert authenticator.authenticate(bearer(make_token(iat=None, exp=now + 3000)), AUD)
    _reject(authenticator, bearer(make_token(iat=None, exp=now + 7200)), "lifetime")


def test_lifetime_cap_is_configurable(issuers_file: Path, make_token: TokenFactory) -> None:
    auth = JwtAuthenticator(
        load_trusted_issuers(issuers_file),
        requests.Session(),
        InMemoryJtiStore(),
        max_lifetime=60,
    )
    now = int(time.time())
    assert auth.authenticate(bearer(make_token(iat=now, exp=now + 60)), AUD)
    _reject(auth, bearer(make_token(iat=now, exp=now + 300)), "lifetime")


# --- one INFO line per refusal, no token, no claim values (issue 13) -----------------------


def test_refusal_logs_one_info_line_with_the_code_and_nothing_of_the_token(
    authenticator: JwtAuthenticator, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Patient-4711-Smith"
    token = make_token(kid="rotated-away", sub=secret, tenant=secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TokenRefused):
        authenticator.authenticate(bearer(token), AUD)
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in info] == ["JWT refused: reason=kid-unknown"]
    for record in caplog.records:
        assert token not in record.getMessage()
        assert secret not in record.getMessage()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"headers": {"jku": "https://evil.example/jwks"}}, "jku-not-allowed"),
        ({"audience": "https://other.example/cds-services"}, "aud"),
        ({"iat": 1_000_000, "exp": 1_000_300}, "exp"),
        ({"iss": "https://evil.example"}, "iss"),
    ],
)
def test_each_refusal_logs_its_code(
    authenticator: JwtAuthenticator,
    make_token: TokenFactory,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, Any],
    code: str,
) -> None:
    caplog.set_level(logging.INFO, logger="cds_hooks.auth")
    with pytest.raises(TokenRefused):
        authenticator.authenticate(bearer(make_token(**overrides)), AUD)
    assert [r.getMessage() for r in caplog.records] == [f"JWT refused: reason={code}"]


def test_accepted_token_logs_nothing_at_info(
    authenticator: JwtAuthenticator, make_token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cds_hooks.auth")
    authenticator.authenticate(bearer(make_token()), AUD)
    assert caplog.records == []
