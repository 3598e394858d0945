"""Configuration of the SMART on FHIR app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from cds_hooks.servers import is_loopback, origin
from service.engine import RESOURCE_TYPES  # what the app reads: the engine's searches


def _secure(url: str, *, forbidden: str) -> bool:
    """An absolute https URL (http only to this machine, as the hook's FHIR servers) holding
    none of `forbidden`, no space and no control character."""
    if any(c in url for c in forbidden) or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(url))


def valid_url(url: str) -> bool:
    """An `iss`: no user, query or fragment; nothing that could end a CSP source (`;,'`).

    Checked on the raw text: "https://ehr/fhir#" or "…?x" would let a sender choose the path the
    app fetches after it appends "/.well-known/…".
    """
    return _secure(url, forbidden="?#@\\;,'")


def secure_endpoint(url: object) -> bool:
    """Where the browser and the authorization code may be sent: no user or fragment."""
    return isinstance(url, str) and _secure(url, forbidden="#@")


@dataclass(frozen=True)
class SmartConfig:
    """How the app registers with EHRs.

    `scopes` are extra scopes beyond the launch and resource scopes, empty by default: the app
    reads no user identity and refreshes no token, so it asks for neither `openid fhirUser` nor
    `offline_access` unless configured (a launcher may loop at a login it does not need).
    `scope_style` chooses SMART v1 (`patient/X.read`) or v2 (`patient/X.rs`) resource scopes.
    `allowed_issuers` are the FHIR bases the app agrees to launch from: none means every launch
    is refused (deny by default). `redirect_url` is the registered callback, never derived from
    the request's Host; required when any issuer is allowed.
    """

    client_id: str
    redirect_url: str | None
    scopes: str
    scope_style: Literal["v1", "v2"]
    client_secret: str | None
    session_secret: bytes
    allowed_issuers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [i for i in self.allowed_issuers if not valid_url(i)]
        if bad:
            raise ValueError(f"not an https FHIR base without query or fragment: {bad[0]!r}")
        if self.allowed_issuers and not (self.redirect_url and valid_url(self.redirect_url)):
            raise ValueError("redirect_url (the app's https callback URL) is required")

    @property
    def frame_ancestors(self) -> str:
        """The CSP `frame-ancestors` value: the origins of the allowed EHRs, or 'none'."""
        found = dict.fromkeys(origin(i) for i in self.allowed_issuers)
        return " ".join(found) or "'none'"

    def requested_scopes(self, *, ehr_launch: bool) -> str:
        """The full scope string of an authorization request."""
        suffix = "read" if self.scope_style == "v1" else "rs"
        parts = ["launch" if ehr_launch else "launch/patient", *self.scopes.split()]
        parts += [f"patient/{t}.{suffix}" for t in RESOURCE_TYPES]
        return " ".join(dict.fromkeys(parts))  # keep order, drop duplicates
