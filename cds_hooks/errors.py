"""The one exception tree of the CDS Hooks layer and its one mapping to HTTP responses.

Every status code the service answers with is decided here, so the rules (empty 401 body,
OperationOutcome on 412, no internals on 500) cannot drift between endpoints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import flask

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


def issue_code(reason: str) -> str:
    """FHIR issue-type code fitting a prefetch failure reason."""
    text = reason.lower()
    if "timed out" in text or "timeout" in text or "deadline" in text:
        return "timeout"
    if any(word in text for word in ("401", "403", "refused access", "unauthori", "forbidden")):
        return "security"
    if any(word in text for word in ("not provided", "not found", "404", "operationoutcome")):
        return "not-found"
    return "exception"


class PrefetchUnavailable(CdsHooksError):
    """Required prefetch data could not be obtained (412, body is a FHIR OperationOutcome)."""

    status = 412
    error = "prefetch_unavailable"

    def __init__(self, failures: Mapping[str, str]) -> None:
        super().__init__(", ".join(sorted(failures)))
        self.failures = dict(failures)

    def body(self) -> Mapping[str, Any]:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": issue_code(reason),
                    "diagnostics": f"prefetch '{key}' unavailable: {reason}",
                }
                for key, reason in sorted(self.failures.items())
            ],
        }


class FhirError(CdsHooksError):
    """A call to the FHIR server failed; messages never carry tokens or query strings."""

    status = 502
    error = "fhir_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> Mapping[str, Any]:
        return {"error": self.error, "message": self.message}


class FhirAuthError(FhirError):
    """The FHIR server answered 401 or 403."""

    error = "fhir_auth_error"


class FhirNotFound(FhirError):
    """The FHIR server answered 404 or 410."""

    error = "fhir_not_found"


class FhirTimeout(FhirError):
    """The FHIR server did not answer in time, or the deadline had passed."""

    status = 504
    error = "fhir_timeout"


class FhirUnavailable(FhirError):
    """Connection refused or reset, or a 5xx answer."""

    error = "fhir_unavailable"


class FhirInvalidResponse(FhirError):
    """HTML, truncated JSON, wrong resource type, paging loop or too many pages."""

    error = "fhir_invalid_response"


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
        response = flask.Response(status=exc.status)
    else:
        mimetype = FHIR_JSON if body.get("resourceType") == "OperationOutcome" else JSON
        response = flask.Response(json.dumps(body), status=exc.status, mimetype=mimetype)
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
