"""Configuration of the SMART on FHIR app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What the app reads (fhir-contract.md); Patient for the banner and birth date.
RESOURCE_TYPES: tuple[str, ...] = ("Patient", "Condition", "Observation", "Procedure", "CarePlan")


@dataclass(frozen=True)
class SmartConfig:
    """How the app registers with EHRs.

    `scopes` are extra scopes beyond the launch and resource scopes, empty by default: the app
    reads no user identity and refreshes no token, so it asks for neither `openid fhirUser` nor
    `offline_access` unless configured (a launcher may loop at a login it does not need).
    `scope_style` chooses SMART v1 (`patient/X.read`) or v2 (`patient/X.rs`) resource scopes.
    `redirect_url` None means the callback URL of the app as served. `allowed_issuers`, when not
    empty, is the list of FHIR bases the app agrees to launch from.
    """

    client_id: str
    redirect_url: str | None
    scopes: str
    scope_style: Literal["v1", "v2"]
    client_secret: str | None
    session_secret: bytes
    allowed_issuers: tuple[str, ...] = ()

    def requested_scopes(self, *, ehr_launch: bool) -> str:
        """The full scope string of an authorization request."""
        suffix = "read" if self.scope_style == "v1" else "rs"
        parts = ["launch" if ehr_launch else "launch/patient", *self.scopes.split()]
        parts += [f"patient/{t}.{suffix}" for t in RESOURCE_TYPES]
        return " ".join(dict.fromkeys(parts))  # keep order, drop duplicates
