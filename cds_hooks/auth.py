"""Authentication of CDS Clients (CDS Hooks 2.0 §trusting CDS Clients): signed JWT bearer tokens.

Only ES384 and RS384 are accepted, checked on the header before any verification, so an
`alg: none` or HMAC token (signed with a public key as secret) never reaches PyJWT's verifier.
Header and claim types are checked before PyJWT sees them, so odd JSON is a 401, never a 500.

A refused token logs one INFO line with a stable reason code (`TokenRefused.code`): `header`,
`malformed`, `alg`, `iss`, `jku-not-allowed`, `jku-missing`, `kid`, `kid-unknown`, `key`,
`jwks-unavailable`, `signature`, `aud`, `sub`, `exp`, `iat`, `nbf`, `lifetime`, `jti`, `tenant`,
`replay`, `invalid`.
Never the token or a claim value: those may carry a user's or a patient's identity.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
import requests
import sqlalchemy as sa
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from sqlalchemy.engine import Engine

from cds_hooks.errors import Unauthorized
from cds_hooks.feedback import insert_ignoring_duplicates
from cds_hooks.models import is_http_url
from cds_hooks.servers import LOOPBACK, NONE, FhirServers, origin

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset({"ES384", "RS384"})
JWKS_TIMEOUT = (3.05, 5.0)
MAX_JTI_LENGTH = 256  # the replay table's column
MAX_ISS_LENGTH = 512
DEFAULT_MAX_LIFETIME = 3600.0  # seconds from `iat` to `exp`


class TokenRefused(Unauthorized):
    """A refused token; `code` is the stable reason that is logged (see the module docstring)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class Authenticator(Protocol):
    def authenticate(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        """The verified claims; raises Unauthorized."""
        ...

    def fhir_servers(self, claims: Mapping[str, Any]) -> FhirServers:
        """The FHIR servers a caller with these verified claims may name as `fhirServer`."""
        ...


class NoAuth:
    """Accepts every call (development and tests only); FHIR servers from configuration."""

    def __init__(self, servers: FhirServers = LOOPBACK) -> None:
        self._servers = servers

    def authenticate(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        return {}

    def fhir_servers(self, claims: Mapping[str, Any]) -> FhirServers:
        return self._servers


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
        # rowcount is -1 through psycopg for ON CONFLICT DO NOTHING: the returned row is what
        # tells a new id from a seen one, in every dialect.
        statement = insert_ignoring_duplicates(self._engine, jti_table).returning(jti_table.c.jti)
        with self._engine.begin() as connection:
            # Expired ids can go: a replay of them fails on `exp` anyway.
            connection.execute(sa.delete(jti_table).where(jti_table.c.expires_at < time.time()))
            result = connection.execute(
                statement, {"issuer": issuer, "jti": jti, "expires_at": expires_at}
            )
            return result.first() is not None


# --- trusted issuers ----------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    jku: tuple[str, ...]
    jwks: Mapping[str, Any] | None = None  # pinned key set from `jwks_file`
    tenants: frozenset[str] | None = None
    fhir_servers: FhirServers = NONE  # none unless listed


@dataclass(frozen=True)
class TrustedIssuers:
    by_iss: Mapping[str, TrustedIssuer]

    def get(self, iss: object) -> TrustedIssuer | None:
        return self.by_iss.get(iss) if isinstance(iss, str) else None


def load_trusted_issuers(path: str | Path) -> TrustedIssuers:
    """Read `{"issuers": [{"iss", "jku": [...], "jwks_file"?, "tenants"?, "fhir_servers"?}]}`;
    ValueError if bad."""
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
        if not isinstance(iss, str) or not iss or len(iss) > MAX_ISS_LENGTH:
            raise ValueError(f"{where}.iss must be a non-empty string of {MAX_ISS_LENGTH} or less")
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
        servers = entry.get("fhir_servers", [])
        if not isinstance(servers, list):
            raise ValueError(f"{where}.fhir_servers must be a list of FHIR base URLs")
        by_iss[iss] = TrustedIssuer(
            iss,
            tuple(jku),
            jwks,
            frozenset(tenants) if tenants is not None else None,
            FhirServers.of(servers, f"{where}.fhir_servers"),
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
        raise TokenRefused("key", "key does not match the token algorithm")
    if raw.get("use") not in (None, "sig"):
        raise TokenRefused("key", "key is not a signing key")
    try:
        return jwt.PyJWK(dict(raw), algorithm=alg).key
    except jwt.PyJWTError:
        raise TokenRefused("key", "unusable JWK") from None


def _names_pinned_keys(issuer: TrustedIssuer, jku: object) -> bool:
    """A `jku` on the issuer's own origin, when its keys are pinned: never fetched, so allowed.

    The CDS Hooks sandbox sends its own `jku`; a pinned issuer need not repeat it in the list.
    """
    return issuer.jwks is not None and is_http_url(jku) and origin(str(jku)) == origin(issuer.iss)


def _is_number(value: object) -> bool:
    """A JSON number that can be a NumericDate (not a bool, a string, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_types(header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """Refuse header and claim values of the wrong JSON type before anything compares them."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise TokenRefused("alg", "algorithm not allowed")
    if "exp" not in claims:
        raise TokenRefused("exp", "exp missing")
    for name in ("exp", "iat", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise TokenRefused(name, f"{name} must be a number")
    if "tenant" in claims and not isinstance(claims["tenant"], str):
        raise TokenRefused("tenant", "tenant must be a string")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise TokenRefused("jti", f"jti must be a string of 1 to {MAX_JTI_LENGTH} characters")
    # Stored as text: PostgreSQL refuses NUL, the UTF-8 codec lone surrogates (not printable).
    if not jti.isprintable():
        raise TokenRefused("jti", "jti has characters that cannot be stored")


# PyJWT's verdicts, most specific first (ExpiredSignatureError is an InvalidTokenError too).
_PYJWT_CODES: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.InvalidSignatureError, "signature"),
    (jwt.ExpiredSignatureError, "exp"),
    (jwt.ImmatureSignatureError, "nbf"),
    (jwt.InvalidIssuedAtError, "iat"),
    (jwt.InvalidAudienceError, "aud"),
    (jwt.InvalidIssuerError, "iss"),
    (InvalidSubjectError, "sub"),
    (InvalidJTIError, "jti"),
)


def _pyjwt_code(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return exc.claim
    return next((code for kind, code in _PYJWT_CODES if isinstance(exc, kind)), "invalid")


class JwtAuthenticator:
    """Verifies CDS Hooks client JWTs against trusted issuers."""

    def __init__(
        self,
        issuers: TrustedIssuers,
        session: requests.Session,
        jti_store: JtiStore,
        *,
        leeway: int = 30,
        jwks_ttl: float = 300.0,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
    ) -> None:
        self._issuers = issuers
        self._session = session
        self._jti_store = jti_store
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._jwks_ttl = jwks_ttl
        self._cache: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        try:
            return self._verify(authorization_header, audience)
        except TokenRefused as exc:
            # One line per refusal, the code only: the token and its claims may identify people.
            logger.info("JWT refused: reason=%s", exc.code)
            raise

    def _verify(self, authorization_header: str | None, audience: str) -> Mapping[str, Any]:
        if not authorization_header:
            raise TokenRefused("header", "missing Authorization header")
        scheme, _, token = authorization_header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or token.count(".") != 2:
            raise TokenRefused("header", "malformed Authorization header")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:  # PyJWT turns RecursionError (deep nesting) into DecodeError too
            raise TokenRefused("malformed", "malformed JWT") from None
        _check_types(header, unverified)
        self._check_times(unverified)  # before PyJWT's, so the refusal names the claim
        alg: str = header["alg"]
        issuer = self._issuers.get(unverified.get("iss"))
        if issuer is None:
            raise TokenRefused("iss", "untrusted issuer")
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
            raise TokenRefused(_pyjwt_code(exc), f"invalid JWT: {exc}") from None
        if issuer.tenants is not None and claims.get("tenant") not in issuer.tenants:
            raise TokenRefused("tenant", "tenant not allowed")
        expires_at = float(claims["exp"]) + self._leeway
        if not self._jti_store.add(issuer.iss, claims["jti"], expires_at):
            raise TokenRefused("replay", "replayed jti")
        return claims

    def fhir_servers(self, claims: Mapping[str, Any]) -> FhirServers:
        issuer = self._issuers.get(claims.get("iss"))
        return issuer.fhir_servers if issuer is not None else NONE

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        # PyJWT checks iat and nbf too; here so the rule does not hang on a library version.
        now = time.time()
        for claim in ("iat", "nbf"):
            value = claims.get(claim)
            if value is not None and float(value) > now + self._leeway:
                raise TokenRefused(claim, f"{claim} is in the future")
        # A long-lived token is a long-lived credential, and a replay id kept as long. Without
        # `iat`, what is left of the token counts, clock skew allowed.
        exp = float(claims["exp"])
        lifetime = exp - float(claims["iat"]) if "iat" in claims else exp - now - self._leeway
        if lifetime > self._max_lifetime:
            raise TokenRefused("lifetime", "token lifetime (exp - iat) over the maximum")

    def _key_for(self, issuer: TrustedIssuer, header: Mapping[str, Any]) -> Mapping[str, Any]:
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku and not _names_pinned_keys(issuer, jku):
            raise TokenRefused("jku-not-allowed", "jku not allowed for this issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("kid", "kid missing")
        if issuer.jwks is not None:
            key = _keys_by_kid(issuer.jwks).get(kid)
            if key is None:
                raise TokenRefused("kid-unknown", "unknown kid")
            return key
        if jku is None:
            if len(issuer.jku) != 1:
                raise TokenRefused("jku-missing", "jku missing and several key sets listed")
            jku = issuer.jku[0]
        keys = self._jwks(jku, refresh=False)
        if kid not in keys:
            keys = self._jwks(jku, refresh=True)  # key rotation: refetch once
        if kid not in keys:
            raise TokenRefused("kid-unknown", "unknown kid")
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
            raise TokenRefused("jwks-unavailable", "JWKS unavailable") from None
        if not isinstance(jwks, dict):
            raise TokenRefused("jwks-unavailable", "JWKS is not a JWK Set")
        keys = _keys_by_kid(jwks)
        with self._lock:
            self._cache[url] = (time.monotonic(), keys)
        return keys
