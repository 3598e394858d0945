"""Authentication of CDS Clients (CDS Hooks 2.0 §trusting CDS Clients): signed JWT bearer tokens.

Only ES384 and RS384 are accepted, checked on the header before any verification, so an
`alg: none` or HMAC token (signed with a public key as secret) never reaches PyJWT's verifier.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cds_hooks.errors import Unauthorized
from cds_hooks.feedback import insert_ignoring_duplicates
from cds_hooks.models import is_http_url

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset({"ES384", "RS384"})
JWKS_TIMEOUT = (3.05, 5.0)


class Authenticator(Protocol):
    def authenticate(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        """The verified claims; raises Unauthorized."""
        ...


class NoAuth:
    """Accepts every call (development and tests only)."""

    def authenticate(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        return {}


# --- replay protection --------------------------------------------------------------------


class JtiStore(Protocol):
    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Remember a token id until `expires_at` (epoch s); False when already seen."""
        ...


class InMemoryJtiStore:
    """Replay store of one process."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if v >= now}
            if (issuer, jti) in self._seen:
                return False
            self._seen[(issuer, jti)] = expires_at
            return True


_jti_metadata = sa.MetaData()
jti_table = sa.Table(
    "cds_jwt_jti",
    _jti_metadata,
    sa.Column("issuer", sa.String(512), primary_key=True),
    sa.Column("jti", sa.String(256), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


class SqlJtiStore:
    """Replay store shared by every worker through the database (e.g. the feedback engine)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        _jti_metadata.create_all(engine)
        engine.dispose()  # as in FeedbackStore: forked workers must not share a pooled connection

    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        statement = insert_ignoring_duplicates(self._engine, jti_table)
        with self._engine.begin() as connection:
            # Expired ids can go: a replay of them fails on `exp` anyway.
            connection.execute(sa.delete(jti_table).where(jti_table.c.expires_at < time.time()))
            result = connection.execute(
                statement, {"issuer": issuer, "jti": jti, "expires_at": expires_at}
            )
            return bool(result.rowcount == 1)


# --- trusted issuers ----------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    jku: tuple[str, ...]
    jwks: Mapping[str, Any] | None = None  # pinned key set from `jwks_file`
    tenants: frozenset[str] | None = None


@dataclass(frozen=True)
class TrustedIssuers:
    by_iss: Mapping[str, TrustedIssuer]

    def get(self, iss: object) -> TrustedIssuer | None:
        return self.by_iss.get(iss) if isinstance(iss, str) else None


def load_trusted_issuers(path: str | Path) -> TrustedIssuers:
    """Read `{"issuers": [{"iss", "jku": [...], "jwks_file"?, "tenants"?}]}`; ValueError if bad."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read trusted issuers JSON ({exc})") from None
    entries = data.get("issuers") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: 'issuers' must be a non-empty list")
    by_iss: dict[str, TrustedIssuer] = {}
    for i, entry in enumerate(entries):
        where = f"{path}: issuers[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        iss = entry.get("iss")
        if not isinstance(iss, str) or not iss:
            raise ValueError(f"{where}.iss must be a non-empty string")
        if iss in by_iss:
            raise ValueError(f"{where}.iss {iss!r} is listed twice")
        jku = entry.get("jku", [])
        if not isinstance(jku, list) or not all(is_http_url(u) for u in jku):
            raise ValueError(f"{where}.jku must be a list of absolute http(s) URLs")
        jwks = None
        jwks_file = entry.get("jwks_file")
        if jwks_file is not None:
            jwks = _load_jwks_file(path.parent / str(jwks_file), where)
        elif not jku:
            raise ValueError(f"{where} needs 'jku' URLs or a 'jwks_file'")
        tenants = entry.get("tenants")
        if tenants is not None and (
            not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants)
        ):
            raise ValueError(f"{where}.tenants must be a list of strings")
        by_iss[iss] = TrustedIssuer(
            iss, tuple(jku), jwks, frozenset(tenants) if tenants is not None else None
        )
    return TrustedIssuers(by_iss)


def _load_jwks_file(path: Path, where: str) -> Mapping[str, Any]:
    try:
        jwks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where}.jwks_file {path}: cannot read JWKS ({exc})") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError(f"{where}.jwks_file {path}: not a JWK Set (no 'keys' list)")
    return jwks


# --- the JWT authenticator -----------------------------------------------------------------


_KEY_TYPES = {"ES384": ("EC", "P-384"), "RS384": ("RSA", None)}


def _keys_by_kid(jwks: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        raw["kid"]: raw
        for raw in jwks.get("keys") or []
        if isinstance(raw, dict) and isinstance(raw.get("kid"), str)
    }


def _verification_key(raw: Mapping[str, Any], alg: str) -> Any:
    """The key of JWK `raw` for `alg`; Unauthorized when the key does not fit the algorithm."""
    kty, crv = _KEY_TYPES[alg]
    if raw.get("alg") not in (None, alg) or raw.get("kty") != kty or raw.get("crv") != crv:
        raise Unauthorized("key does not match the token algorithm")
    if raw.get("use") not in (None, "sig"):
        raise Unauthorized("key is not a signing key")
    try:
        return jwt.PyJWK(dict(raw), algorithm=alg).key
    except jwt.PyJWTError:
        raise Unauthorized("unusable JWK") from None


class JwtAuthenticator:
    """Verifies CDS Hooks client JWTs against trusted issuers."""

    def __init__(
        self,
        issuers: TrustedIssuers,
        session: requests.Session,
        jti_store: JtiStore,
        leeway: int = 30,
        jwks_ttl: float = 300.0,
    ) -> None:
        self._issuers = issuers
        self._session = session
        self._jti_store = jti_store
        self._leeway = leeway
        self._jwks_ttl = jwks_ttl
        self._cache: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        if not authorization_header:
            raise Unauthorized("missing Authorization header")
        scheme, _, token = authorization_header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or token.count(".") != 2:
            raise Unauthorized("malformed Authorization header")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("malformed JWT") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthorized(f"algorithm {alg!r} not allowed")
        issuer = self._issuers.get(unverified.get("iss"))
        if issuer is None:
            raise Unauthorized("untrusted issuer")
        key = _verification_key(self._key_for(issuer, header), alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.iss,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid JWT: {exc}") from None
        self._check_times(claims)
        if issuer.tenants is not None and claims.get("tenant") not in issuer.tenants:
            raise Unauthorized("tenant not allowed")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise Unauthorized("jti must be a non-empty string")
        expires_at = float(claims["exp"]) + self._leeway
        if not self._jti_store.add(issuer.iss, claims["jti"], expires_at):
            raise Unauthorized("replayed jti")
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        # PyJWT checks these too; repeated so the rule does not hang on a library version.
        now = time.time()
        for claim in ("iat", "nbf"):
            value = claims.get(claim)
            if value is not None and float(value) > now + self._leeway:
                raise Unauthorized(f"{claim} is in the future")

    def _key_for(self, issuer: TrustedIssuer, header: Mapping[str, Any]) -> Mapping[str, Any]:
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku:
            raise Unauthorized("jku not allowed for this issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("kid missing")
        if issuer.jwks is not None:
            key = _keys_by_kid(issuer.jwks).get(kid)
            if key is None:
                raise Unauthorized("unknown kid")
            return key
        if jku is None:
            if len(issuer.jku) != 1:
                raise Unauthorized("jku missing and the issuer has several key sets")
            jku = issuer.jku[0]
        keys = self._jwks(jku, refresh=False)
        if kid not in keys:
            keys = self._jwks(jku, refresh=True)  # key rotation: refetch once
        if kid not in keys:
            raise Unauthorized("unknown kid")
        return keys[kid]

    def _jwks(self, url: str, *, refresh: bool) -> dict[str, dict[str, Any]]:
        with self._lock:
            cached = self._cache.get(url)
            if cached and not refresh and time.monotonic() - cached[0] < self._jwks_ttl:
                return cached[1]
        try:
            response = self._session.get(
                url, timeout=JWKS_TIMEOUT, headers={"Accept": "application/json"}
            )
            response.raise_for_status()
            jwks = response.json()
        except (requests.RequestException, ValueError):
            raise Unauthorized("JWKS unavailable") from None
        if not isinstance(jwks, dict):
            raise Unauthorized("JWKS is not a JWK Set")
        keys = _keys_by_kid(jwks)
        with self._lock:
            self._cache[url] = (time.monotonic(), keys)
        return keys
