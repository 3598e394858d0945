"""Service settings, read once from the environment (`RELAPSE_CDS_*`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cds_hooks.servers import FhirServers
from service.domain import primary_schemes
from service.smart.config import valid_url

_PREFIX = "RELAPSE_CDS_"
MAX_CARD_RETENTION_DAYS = 3650


def local_today() -> date:
    """The date of "as of": the server's local date (deploy with TZ set to the hospital's)."""
    return datetime.now().astimezone().date()


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    primary_scheme: str = "bfm"
    auth: str = "jwt"  # "jwt" or "none"
    trusted_issuers: Path | None = None
    # Base URL as the EHR sees it (behind a proxy); the JWT audience, so required with jwt.
    public_url: str | None = None
    jwt_max_lifetime_seconds: float = 3600.0  # longest accepted `exp - iat`
    cors_origins: tuple[str, ...] = ()
    database_url: str = "sqlite:///relapse-cds.sqlite3"
    codesets: Path | None = None  # an institution's extra codes (JSON)
    fhir_connect_timeout: float = 3.05
    fhir_read_timeout: float = 8.0
    deadline_seconds: float = 9.0  # whole hook, FHIR fetches included
    max_pages: int = 20
    # With auth "none": the FHIR servers a hook may name (empty: loopback only). With "jwt"
    # each trusted issuer lists its own `fhir_servers`.
    fhir_servers: tuple[str, ...] = ()
    # Headers and body of one request, in total: a client dribbling them is cut after this.
    request_read_seconds: float = 10.0
    # How long an issued card takes feedback: its uuid is kept in the database that long.
    card_retention_days: float = 30.0
    smart_client_id: str = "relapse-cds-app"
    smart_client_secret: str | None = None
    smart_redirect_url: str | None = None
    smart_scope_style: str = "v2"
    smart_scopes: str = ""  # beyond launch and patient reads, e.g. "openid fhirUser"
    # FHIR bases the SMART app may be launched from (empty: none, every launch is refused).
    smart_allowed_issuers: tuple[str, ...] = ()
    # Demo only: the local test EHR that the start page links to for "launch as the EHR would".
    demo_ehr_url: str | None = None
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        if self.primary_scheme not in primary_schemes():
            raise SettingsError(
                f"{_PREFIX}PRIMARY_SCHEME must be one of {', '.join(primary_schemes())}, "
                f"not {self.primary_scheme!r}"
            )
        if self.auth not in ("jwt", "none"):
            raise SettingsError(f"{_PREFIX}AUTH must be 'jwt' or 'none', not {self.auth!r}")
        if self.auth == "jwt" and self.trusted_issuers is None:
            raise SettingsError(
                f"{_PREFIX}TRUSTED_ISSUERS (a JSON file of trusted issuers) is required when "
                f"{_PREFIX}AUTH=jwt; set {_PREFIX}AUTH=none only for local testing"
            )
        if self.auth == "jwt" and self.public_url is None:
            # Never the request's Host: a token minted for another service would pass with it.
            raise SettingsError(
                f"{_PREFIX}PUBLIC_URL (the service's base URL as the EHR calls it, the JWT "
                f"audience) is required when {_PREFIX}AUTH=jwt"
            )
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or "?" in self.public_url
                or "#" in self.public_url
            ):
                raise SettingsError(
                    f"{_PREFIX}PUBLIC_URL must be an absolute http(s) URL without query or "
                    f"fragment, not {self.public_url!r}"
                )
        if self.jwt_max_lifetime_seconds <= 0:
            raise SettingsError(f"{_PREFIX}JWT_MAX_LIFETIME_SECONDS must be > 0")
        if self.fhir_servers and self.auth == "jwt":
            raise SettingsError(
                f"{_PREFIX}FHIR_SERVERS applies to {_PREFIX}AUTH=none only; with jwt, list "
                f"each issuer's fhir_servers in {_PREFIX}TRUSTED_ISSUERS"
            )
        try:
            FhirServers.of(self.fhir_servers, f"{_PREFIX}FHIR_SERVERS")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        if self.smart_scope_style not in ("v1", "v2"):
            raise SettingsError(f"{_PREFIX}SMART_SCOPE_STYLE must be 'v1' or 'v2'")
        # Without allowed issuers the SMART app refuses every launch; with them, it needs its
        # registered callback (never one made from the request's Host header).
        if self.smart_allowed_issuers and not self.smart_redirect_url:
            raise SettingsError(
                f"{_PREFIX}SMART_REDIRECT_URL is required with {_PREFIX}SMART_ALLOWED_ISSUERS"
            )
        for url in (*self.smart_allowed_issuers, *filter(None, [self.smart_redirect_url])):
            if not valid_url(url):
                raise SettingsError(
                    f"{_PREFIX}SMART_ALLOWED_ISSUERS and SMART_REDIRECT_URL must be https URLs "
                    f"(http only on loopback) without query or fragment, not {url!r}"
                )
        if self.deadline_seconds <= 0 or self.max_pages < 1 or self.request_read_seconds <= 0:
            raise SettingsError(
                f"{_PREFIX}DEADLINE_SECONDS, MAX_PAGES and REQUEST_READ_SECONDS must be > 0"
            )
        if not 0 < self.card_retention_days <= MAX_CARD_RETENTION_DAYS:
            raise SettingsError(
                f"{_PREFIX}CARD_RETENTION_DAYS must be > 0 and at most {MAX_CARD_RETENTION_DAYS}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(_PREFIX + name, "").strip()
            return value or None

        def number(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                raise SettingsError(f"{_PREFIX}{name} must be a number, not {raw!r}") from None

        secret = get("SESSION_SECRET")
        issuers = get("TRUSTED_ISSUERS")
        codesets = get("CODESETS")
        return cls(
            primary_scheme=(get("PRIMARY_SCHEME") or "bfm").lower(),
            auth=(get("AUTH") or "jwt").lower(),
            trusted_issuers=Path(issuers) if issuers else None,
            public_url=(get("PUBLIC_URL") or "").rstrip("/") or None,
            jwt_max_lifetime_seconds=number(
                "JWT_MAX_LIFETIME_SECONDS", cls.jwt_max_lifetime_seconds
            ),
            cors_origins=_list(get("CORS_ORIGINS")),
            database_url=get("DATABASE_URL") or cls.database_url,
            codesets=Path(codesets) if codesets else None,
            fhir_connect_timeout=number("FHIR_CONNECT_TIMEOUT", cls.fhir_connect_timeout),
            fhir_read_timeout=number("FHIR_READ_TIMEOUT", cls.fhir_read_timeout),
            deadline_seconds=number("DEADLINE_SECONDS", cls.deadline_seconds),
            max_pages=int(number("MAX_PAGES", cls.max_pages)),
            fhir_servers=_list(get("FHIR_SERVERS")),
            request_read_seconds=number("REQUEST_READ_SECONDS", cls.request_read_seconds),
            card_retention_days=number("CARD_RETENTION_DAYS", cls.card_retention_days),
            smart_client_id=get("SMART_CLIENT_ID") or cls.smart_client_id,
            smart_client_secret=get("SMART_CLIENT_SECRET"),
            smart_redirect_url=get("SMART_REDIRECT_URL"),
            smart_scope_style=(get("SMART_SCOPE_STYLE") or cls.smart_scope_style).lower(),
            smart_scopes=get("SMART_SCOPES") or "",
            smart_allowed_issuers=_list(get("SMART_ALLOWED_ISSUERS")),
            demo_ehr_url=get("DEMO_EHR_URL"),
            session_secret=secret.encode() if secret else secrets.token_bytes(32),
        )


def _list(value: str | None) -> tuple[str, ...]:
    """A comma-separated setting."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())
