"""The one exception tree of the CDS Hooks layer and its one mapping to HTTP responses.

Every status code the service answers with is decided here, so the rules (empty 401 body,
OperationOutcome on 412, no internals on 500) cannot drift between endpoints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

JSON = "application/json"
FHIR_JSON = "application/fhir+json"


class CdsHooksError(Exception):
    """Base of every error this package raises on purpose; maps to 500 unless overridden."""

    status: int = 500
    error: str = "internal_error"

    def body(self) -> Mapping[str, Any] | None:
        """JSON body of the HTTP response; None means an empty body."""
        return {"error": self.error, "message": "internal error"}


class BadRequest(CdsHooksError):
    """The request is malformed; `field` names the offending JSON path."""

    status = 400
    error = "bad_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def body(self) -> Mapping[str, Any]:
        return {"error": self.error, "field": self.field, "message": self.message}


class TooLarge(BadRequest):
    """The request holds more than the service reads within its deadline."""

    status = 413
    error = "too_large"


class DeadlinePassed(CdsHooksError):
    """The hook's deadline passed before the answer could be worked out; nothing was assessed."""

    status = 503
    error = "deadline_passed"

    def body(self) -> Mapping[str, Any]:
        return {"error": self.error, "message": "the deadline passed before the assessment"}


class UnsupportedMediaType(CdsHooksError):
    """The request body is not declared as JSON."""

    status = 415
    error = "unsupported_media_type"

    def body(self) -> Mapping[str, Any]:
        return {"error": self.error, "message": "the body must be application/json"}


class Unauthorized(CdsHooksError):
    """Authentication failed; the reason is logged at DEBUG only, the body stays empty."""

    status = 401
    error = "unauthorized"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def body(self) -> None:
        return None


class FhirServerNotAllowed(CdsHooksError):
    """`fhirServer` is not a server this caller may name; nothing was fetched (403)."""

    status = 403
    error = "fhir_server_not_allowed"

    def body(self) -> Mapping[str, Any]:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "forbidden",
                    "diagnostics": "fhirServer is not a FHIR server this service may call "
                    "for this client",
                }
            ],
        }


class NotFound(CdsHooksError):
    """Unknown service or resource."""

    status = 404
    error = "not_found"

    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> Mapping[str, Any]:
        return {"error": self.error, "message": self.message}


# FHIR R4 IssueType codes (http://hl7.org/fhir/issue-type): the only codes a failure carries.
ISSUE_TYPES = frozenset(
    {
        "invalid", "structure", "required", "value", "invariant", "security", "login",
        "unknown", "expired", "forbidden", "suppressed", "processing", "not-supported",
        "duplicate", "multiple-matches", "not-found", "deleted", "too-long", "code-invalid",
        "extension", "too-costly", "business-rule", "conflict", "transient", "lock-error",
        "no-store", "exception", "timeout", "incomplete", "throttled", "informational",
    }
)  # fmt: skip


def issue_type(code: object) -> str:
    """`code` when it is a FHIR IssueType code, else "exception" (never text from elsewhere)."""
    return code if isinstance(code, str) and code in ISSUE_TYPES else "exception"


@dataclass(frozen=True)
class PrefetchFailure:
    """Why one prefetch key has no data: a FHIR IssueType `code` and a message for people.

    Decisions (412 issue codes, the SMART app's "sign in again") read `code`, never `message`.
    """

    code: str
    message: str
    # A transport failure at the FHIR server (unreachable, timed out, not FHIR): the 412 says
    # only "could not be read", so its answers cannot tell network conditions apart (probing).
    network: bool = False

    def __post_init__(self) -> None:
        if self.code not in ISSUE_TYPES:
            raise ValueError(f"not a FHIR IssueType code: {self.code!r}")


_NOT_READ = "could not be read from the FHIR server"


class PrefetchUnavailable(CdsHooksError):
    """Required prefetch data could not be obtained (412, body is a FHIR OperationOutcome)."""

    status = 412
    error = "prefetch_unavailable"

    def __init__(self, failures: Mapping[str, PrefetchFailure]) -> None:
        super().__init__(", ".join(sorted(failures)))
        self.failures = dict(failures)

    def body(self) -> Mapping[str, Any]:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "exception" if failure.network else failure.code,
                    "diagnostics": f"prefetch '{key}' unavailable: "
                    + (_NOT_READ if failure.network else failure.message),
                }
                for key, failure in sorted(self.failures.items())
            ],
        }


class FhirError(CdsHooksError):
    """A call to the FHIR server failed; messages never carry tokens or query strings.

    `issue_code` is the FHIR IssueType of the failure when it is carried as a PrefetchFailure.
    """

    status = 502
    error = "fhir_error"
    issue_code = "exception"
    network = True  # no HTTP answer that says why (see PrefetchFailure.network)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> Mapping[str, Any]:
        return {"error": self.error, "message": self.message}

    def failure(self) -> PrefetchFailure:
        return PrefetchFailure(self.issue_code, self.message, network=self.network)


class FhirAuthError(FhirError):
    """The FHIR server answered 401 or 403: the token the caller gave us is refused."""

    status = 401
    error = "fhir_auth_error"
    issue_code = "security"
    network = False


class FhirNotFound(FhirError):
    """The FHIR server answered 404 or 410."""

    status = 404
    error = "fhir_not_found"
    issue_code = "not-found"
    network = False


class FhirTimeout(FhirError):
    """The FHIR server did not answer in time, or the deadline had passed."""

    status = 504
    error = "fhir_timeout"
    issue_code = "timeout"


class FhirUnavailable(FhirError):
    """Connection refused or reset, or a 5xx answer."""

    error = "fhir_unavailable"


class FhirInvalidResponse(FhirError):
    """HTML, truncated JSON, wrong resource type, paging loop or too many pages."""

    error = "fhir_invalid_response"


class FhirOperationOutcome(FhirError):
    """The FHIR server answered an OperationOutcome reporting an error; `code` is its IssueType."""

    error = "fhir_operation_outcome"
    network = False

    def __init__(self, code: str) -> None:
        super().__init__(f"FHIR server answered an OperationOutcome ({code})")
        self.issue_code = code


def http_status(exc: BaseException) -> int:
    """The one mapping from an exception to an HTTP status, for every blueprint."""
    if isinstance(exc, CdsHooksError):
        return exc.status
    if isinstance(exc, HTTPException):
        return exc.code or 500
    return 500


def error_response(exc: BaseException) -> flask.Response:
    """The one mapping from an exception to an HTTP response."""
    if not isinstance(exc, CdsHooksError):
        # The message and traceback may quote patient data: type at ERROR, details at DEBUG.
        logger.error("unexpected error: %s", type(exc).__name__)
        logger.debug("unexpected error details", exc_info=exc)
        exc = CdsHooksError("unexpected")
    if isinstance(exc, Unauthorized):
        logger.debug("unauthorized: %s", exc.reason)
    body = exc.body()
    if body is None:
        response = flask.Response(status=http_status(exc))
    else:
        mimetype = FHIR_JSON if body.get("resourceType") == "OperationOutcome" else JSON
        response = flask.Response(json.dumps(body), status=http_status(exc), mimetype=mimetype)
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
