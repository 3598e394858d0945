"""The CDS Hooks HTTP endpoints as a Flask blueprint: discovery, hook calls and feedback."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import flask
import requests
from werkzeug.exceptions import HTTPException

from cds_hooks import jsonbody
from cds_hooks.auth import Authenticator, NoAuth
from cds_hooks.contexts import check_context
from cds_hooks.discovery import ServiceDefinition, discovery_document
from cds_hooks.errors import (
    BadRequest,
    FhirServerNotAllowed,
    NotFound,
    PrefetchUnavailable,
    TooLarge,
    UnsupportedMediaType,
    error_response,
    http_status,
)
from cds_hooks.feedback import FeedbackStore
from cds_hooks.fhir import FhirClient
from cds_hooks.metrics import observe_call
from cds_hooks.models import HookRequest, cards_response, parse_feedback
from cds_hooks.prefetch import resolve
from cds_hooks.servers import normalise_base

logger = logging.getLogger(__name__)

ALLOW_HEADERS = "Authorization, Content-Type"
ALLOW_METHODS = "GET, POST, OPTIONS"


@dataclass(frozen=True)
class HooksConfig:
    authenticator: Authenticator
    feedback_store: FeedbackStore
    session_factory: Callable[[], requests.Session]
    public_url: str | None
    cors_origins: tuple[str, ...]
    fhir_timeout: tuple[float, float]
    deadline_seconds: float
    max_pages: int
    # Resources of one call, sent and fetched: bounds the CPU a call can take (see the README).
    max_resources: int = 20_000


ASSESSMENT_RESERVE_SECONDS = 1.0
_ENDPOINTS = {
    "cds_hooks.call": "hook",
    "cds_hooks.feedback": "feedback",
    "cds_hooks.discovery": "discovery",
}


def _json(body: object, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def _read_json() -> Any:
    if not flask.request.is_json:
        raise UnsupportedMediaType("not JSON")
    try:
        return jsonbody.loads(flask.request.get_data(cache=False))
    except jsonbody.TooDeep as exc:
        raise BadRequest("body", str(exc)) from None
    except ValueError:
        raise BadRequest("body", "is not valid JSON") from None


def create_blueprint(services: Sequence[ServiceDefinition], config: HooksConfig) -> flask.Blueprint:
    by_id = {service.id: service for service in services}
    if len(by_id) != len(services):
        raise ValueError("service ids must be unique")
    if config.public_url is None and not isinstance(config.authenticator, NoAuth):
        # The audience must never come from the request's Host: any Host can be sent.
        raise ValueError("public_url is required with an authenticator (the JWT audience)")
    bp = flask.Blueprint("cds_hooks", __name__)

    @bp.before_request
    def _authenticate() -> flask.Response | None:
        flask.g.cds_started = time.perf_counter()
        if flask.request.method == "OPTIONS":
            return flask.Response(status=204)
        audience = (config.public_url or "").rstrip("/") + flask.request.path
        flask.g.cds_claims = config.authenticator.authenticate(
            flask.request.headers.get("Authorization"), audience
        )
        return None

    @bp.after_request
    def _cors_and_log(response: flask.Response) -> flask.Response:
        origin = flask.request.headers.get("Origin")
        if origin and origin in config.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Max-Age"] = "600"
        response.vary.add("Origin")
        if flask.request.method != "OPTIONS":
            started = flask.g.get("cds_started", time.perf_counter())
            # Only these fields: never a patient id, a clinical value or a token.
            call = {
                "service": (flask.request.view_args or {}).get("service_id", "-"),
                "hookInstance": flask.g.get("cds_hook_instance", "-"),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            known = call["service"] if call["service"] in by_id else "-"
            endpoint = _ENDPOINTS.get(flask.request.endpoint or "", "other")
            observe_call(known, endpoint, response.status_code, time.perf_counter() - started)
            logger.info(
                "cds call service=%(service)s hookInstance=%(hookInstance)s status=%(status)d "
                "duration_ms=%(duration_ms).1f",
                call,
                extra={"cds_call": call},
            )
        return response

    @bp.errorhandler(Exception)
    def _error(exc: Exception) -> flask.Response:
        if isinstance(exc, HTTPException):
            return _json(
                {"error": (exc.name or "error").lower().replace(" ", "_"), "message": exc.name},
                http_status(exc),
            )
        return error_response(exc)

    @bp.get("/cds-services")
    def discovery() -> flask.Response:
        return _json(discovery_document(services))

    @bp.post("/cds-services/<service_id>")
    def call(service_id: str) -> flask.Response:
        service = by_id.get(service_id)
        if service is None:
            raise NotFound("unknown service")
        request = HookRequest.from_json(_read_json())
        flask.g.cds_hook_instance = request.hook_instance
        if request.hook != service.hook:
            raise BadRequest("hook", f"this service answers '{service.hook}'")
        check_context(request.hook, request.context)
        fhir_base = None
        if request.fhir_server:
            allowed = config.authenticator.fhir_servers(flask.g.cds_claims)
            if not allowed.allows(request.fhir_server):
                raise FhirServerNotAllowed()  # before any connection: the token stays here
            fhir_base = normalise_base(request.fhir_server)
        deadline = time.monotonic() + config.deadline_seconds
        # FHIR reads stop early enough to leave the assessment its time within the deadline.
        fetch_by = deadline - min(ASSESSMENT_RESERVE_SECONDS, config.deadline_seconds / 4)
        session = config.session_factory() if fhir_base else None
        try:
            client = None
            if fhir_base and session is not None:
                authorization = request.fhir_authorization
                client = FhirClient(
                    fhir_base,
                    session,
                    access_token=authorization.access_token if authorization else None,
                    timeout=config.fhir_timeout,
                    max_pages=config.max_pages,
                    deadline=fetch_by,
                )
            prefetched = resolve(request, service.prefetch, client, fetch_by)
        finally:
            if session is not None:
                session.close()
        total = sum(len(found) for found in prefetched.resources.values())
        if total > config.max_resources:
            raise TooLarge("prefetch", f"more than {config.max_resources} resources in one call")
        prefetched = prefetched.until(deadline)
        prefetched.check_deadline()  # no assessment is started past the deadline
        missing = {
            key: reason
            for key, reason in prefetched.failures.items()
            if key in service.required_prefetch
        }
        if missing:
            raise PrefetchUnavailable(missing)
        cards = list(service.handler(request, prefetched))
        config.feedback_store.record_issued(service_id, cards)
        return _json(cards_response(cards))

    @bp.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str) -> flask.Response:
        if service_id not in by_id:
            raise NotFound("unknown service")
        items = parse_feedback(_read_json())
        config.feedback_store.add(service_id, items)
        return _json({})

    return bp
