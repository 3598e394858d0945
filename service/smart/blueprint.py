"""The SMART on FHIR app (SMART App Launch 2.0): EHR and standalone launch, then the page.

Tokens stay on the server (sessions.py); the browser only ever sees an opaque session cookie.
Nothing here logs a patient id, a name, a clinical value or a token.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks.errors import FhirAuthError, FhirError, FhirNotFound, FhirTimeout, http_status
from cds_hooks.fhir import FhirClient
from cds_hooks.models import is_fhir_id
from service.engine import KEY_LABELS, REQUIRED_KEYS, RESOURCE_TYPES, EngineResult
from service.smart.config import SmartConfig, secure_endpoint, valid_url
from service.smart.sessions import COOKIE, Context, Pending, Session, SessionStore
from service.smart.view import SECTION_IDS, SECTIONS, build_page, opening_view

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = (3.05, 10.0)
_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors "
)

Assess = Callable[[FhirClient, str], EngineResult]


class _Problem(Exception):
    """An error a person can act on, shown as a page with `status`."""

    def __init__(self, status: int, title: str, message: str, action: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.action = action


_RELAUNCH = "Open the app again from the patient's chart in the EHR."
_NOT_SET_UP = (
    "This EHR is not registered with the app",
    "The app is configured to launch only from known EHRs, and this is not one.",
    "Ask your administrator to add this EHR's FHIR address to the app's settings "
    "(RELAPSE_CDS_SMART_ALLOWED_ISSUERS and RELAPSE_CDS_SMART_REDIRECT_URL).",
)


def _set_cookie(response: BaseResponse, sid: str) -> None:
    response.set_cookie(
        COOKIE, sid, httponly=True, secure=request.is_secure, samesite="Lax", path="/app"
    )


def create_smart_blueprint(config: SmartConfig, assess: Assess, engine: Engine) -> Blueprint:
    """The app under `/app/`: `launch`, `callback`, `view` and `resource/<type>/<id>`.

    `engine` is the service's database, where the sessions live.
    """
    store = SessionStore(config.session_secret, engine)
    allowed = {i.rstrip("/") for i in config.allowed_issuers}
    csp = _CSP + config.frame_ancestors
    if not allowed:
        logger.warning("SMART app: no allowed issuers configured; every launch is refused")
    bp = Blueprint(
        "smart",
        __name__,
        url_prefix="/app",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    def redirect_uri() -> str:
        # From configuration only: a Host header must not choose where codes are sent.
        if not config.redirect_url:
            raise _Problem(403, *_NOT_SET_UP)
        return config.redirect_url

    def oauth(scope: str | None = None) -> OAuth2Session:
        return OAuth2Session(
            config.client_id,
            config.client_secret,
            scope=scope,
            redirect_uri=redirect_uri(),
            code_challenge_method="S256",
            token_endpoint_auth_method=("client_secret_basic" if config.client_secret else "none"),
        )

    def current() -> Session | None:
        return store.get(request.cookies.get(COOKIE))

    def context() -> Context:
        session = current()
        if session is None or session.context is None:
            raise _Problem(
                401,
                "Your session has ended",
                "The app no longer has a sign-in for this browser (it expired, or cookies "
                "are blocked).",
                _RELAUNCH,
            )
        return session.context

    @bp.errorhandler(_Problem)
    def problem(exc: _Problem) -> tuple[BaseResponse | str, int]:
        wants = request.accept_mimetypes.best_match(["text/html", "application/json"])
        if wants == "application/json":
            body = {"error": exc.title, "message": exc.message, "action": exc.action}
            return jsonify(body), exc.status
        return render_template("smart_error.html", problem=exc), exc.status

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        status = http_status(exc)
        shown = _Problem(status, exc.name, "The request could not be handled.", _RELAUNCH)
        return render_template("smart_error.html", problem=shown), status

    @bp.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        # As in the hook's error_response: the message may quote patient data, so DEBUG only.
        logger.error("SMART app: unexpected error (%s)", type(exc).__name__)
        logger.debug("SMART app: unexpected error details", exc_info=exc)
        status = http_status(exc)
        shown = _Problem(
            status, "Something went wrong", "The app met an unexpected error.", _RELAUNCH
        )
        return render_template("smart_error.html", problem=shown), status

    @bp.after_request
    def headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Framed only by the EHRs the app launches from.
        response.headers.setdefault("Content-Security-Policy", csp)
        return response

    @bp.get("/launch")
    def launch() -> BaseResponse:
        iss = request.args.get("iss", "").strip().rstrip("/")
        launch_id = request.args.get("launch")
        if not iss or not valid_url(iss):
            raise _Problem(
                400,
                "The EHR address is missing or invalid",
                "The app must be opened with an iss parameter naming the EHR's FHIR server "
                "over HTTPS.",
                "Open the app from the EHR, or ask your EHR administrator to check the app's "
                "launch settings.",
            )
        if not allowed or iss not in allowed:
            raise _Problem(403, *_NOT_SET_UP)
        endpoints = _discover(iss)
        ehr_launch = bool(launch_id)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        extra = {"aud": iss} | ({"launch": launch_id} if launch_id else {})
        url, _ = oauth(config.requested_scopes(ehr_launch=ehr_launch)).create_authorization_url(
            endpoints["authorization_endpoint"], state=state, code_verifier=verifier, **extra
        )
        session = current()
        sid = None
        if session is None:
            sid, session = store.create()
        view = request.args.get("view")
        store.add_pending(
            session,
            state,
            Pending(
                iss,
                endpoints["token_endpoint"],
                verifier,
                redirect_uri(),
                view if view in SECTION_IDS else None,
            ),
        )
        logger.info("SMART launch started (%s)", "ehr" if ehr_launch else "standalone")
        response = redirect(url)
        if sid is not None:
            _set_cookie(response, sid)
        return response

    @bp.get("/callback")
    def callback() -> BaseResponse:
        session = current()
        state = request.args.get("state")
        pending = store.take_pending(session, state) if session and state else None
        if session is None or pending is None:
            raise _Problem(
                400,
                "This sign-in was not started here",
                "The answer from the EHR does not match a launch this browser started (the "
                "state is missing or does not match). It may be old, or from another window.",
                _RELAUNCH,
            )
        error = request.args.get("error")
        if error == "access_denied":
            raise _Problem(
                403,
                "Access was not granted",
                "The app was not authorized to read this patient's record, so it cannot show "
                "an assessment.",
                "Launch again and approve access, or ask your EHR administrator.",
            )
        if error:
            raise _Problem(
                400,
                "The EHR refused the sign-in",
                f"The EHR answered with the error “{error[:64]}”.",
                _RELAUNCH,
            )
        code = request.args.get("code")
        if not code:
            raise _Problem(400, "The EHR sent no authorization code", "", _RELAUNCH)
        # The code (and the client secret with it) goes only to an EHR still allowed, at the
        # token endpoint its own SMART configuration named.
        if pending.iss not in allowed:
            raise _Problem(403, *_NOT_SET_UP)
        token = _exchange(oauth(), pending, code)
        patient = token.get("patient")
        access = token.get("access_token")
        if not isinstance(patient, str) or not is_fhir_id(patient):
            raise _Problem(
                400,
                "No patient was selected",
                "The EHR did not say which patient the app should show.",
                "Open the app from a patient's chart.",
            )
        if not isinstance(access, str) or not access:
            raise _Problem(502, "The EHR sent no access token", "", _RELAUNCH)
        app_context = token.get("appContext")
        granted = Context(
            pending.iss, access, patient, app_context if isinstance(app_context, str) else None
        )
        session.context = granted
        # A new session id at login: one fixed or seen before sign-in grants nothing.
        sid, _ = store.rotate(session)
        logger.info("SMART authorization completed")
        view = opening_view(granted.app_context, pending.view)
        response = redirect(url_for("smart.view", view=view, _anchor=view))
        _set_cookie(response, sid)
        return response

    @bp.get("/view")
    def view() -> str:
        ctx = context()
        requested = request.args.get("view")
        open_section = requested if requested in dict(SECTIONS) else "summary"
        with requests.Session() as http:
            client = FhirClient(ctx.iss, http, access_token=ctx.access_token)
            try:
                patient = client.read(f"Patient/{ctx.patient}")
                result = assess(client, ctx.patient)
            except FhirError as exc:
                raise _fhir_problem(exc) from None
        failures = result.failures
        required_failed = {k: v for k, v in failures.items() if k in REQUIRED_KEYS}
        if required_failed:
            if any(failure.code == "security" for failure in required_failed.values()):
                raise _fhir_problem(FhirAuthError("refused"))
            raise _Problem(
                502,
                "The patient's record could not be read",
                "Could not read: "
                + "; ".join(KEY_LABELS.get(k, k) for k in sorted(required_failed)),
                "Try again in a moment; if it persists, contact your EHR administrator.",
            )
        page = build_page(result.assessment, patient, failures, KEY_LABELS)
        return render_template(
            "smart_page.html",
            page=page,
            sections=SECTIONS,
            open_section=open_section,
            iss=ctx.iss,
        )

    @bp.get("/resource/<rtype>/<rid>")
    def resource(rtype: str, rid: str) -> str:
        ctx = context()
        if rtype not in RESOURCE_TYPES or not is_fhir_id(rid):
            raise _Problem(404, "No such resource", "", "Go back to the assessment.")
        with requests.Session() as http:
            client = FhirClient(ctx.iss, http, access_token=ctx.access_token)
            try:
                body = client.read(f"{rtype}/{rid}")
            except FhirError as exc:
                raise _fhir_problem(exc) from None
        return render_template(
            "smart_resource.html", ref=f"{rtype}/{rid}", body=json.dumps(body, indent=2)
        )

    return bp


def _discover(iss: str) -> dict[str, str]:
    """The authorization and token endpoints from `{iss}/.well-known/smart-configuration`."""
    failed = _Problem(
        502,
        "The EHR's sign-in settings could not be read",
        "The app could not read the EHR's SMART configuration "
        "(/.well-known/smart-configuration), so it cannot ask for access.",
        "Try again in a moment; if it persists, tell your EHR administrator.",
    )
    try:
        r = requests.get(
            f"{iss}/.well-known/smart-configuration",
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,  # a redirect would leave the allowed issuer
        )
        conf: Any = r.json() if r.status_code == 200 else None
    except (requests.RequestException, ValueError):
        logger.warning("SMART discovery failed (unreachable or not JSON)")
        raise failed from None
    if not isinstance(conf, dict):
        logger.warning("SMART discovery failed (status %d)", r.status_code)
        raise failed
    endpoints = {k: conf.get(k) for k in ("authorization_endpoint", "token_endpoint")}
    if not all(isinstance(v, str) and v for v in endpoints.values()):
        logger.warning("SMART discovery failed (endpoints missing)")
        raise failed
    # The configuration comes from the allowed issuer itself (no redirects followed), so its
    # endpoints are the issuer's word, also on another host (Oracle Health signs in at
    # authorization.cerner.com); they must still be https, or the code could be read in transit.
    if not all(secure_endpoint(v) for v in endpoints.values()):
        logger.warning("SMART discovery refused (endpoints not https)")
        raise _Problem(
            502,
            "The EHR's sign-in settings are not secure",
            "The EHR's SMART configuration names sign-in addresses that are not https, so the "
            "app does not follow them.",
            "Tell your EHR administrator.",
        )
    methods = conf.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise _Problem(
            502,
            "The EHR does not support secure sign-in (PKCE S256)",
            "SMART App Launch 2.0 requires PKCE with S256; this EHR does not offer it.",
            "Tell your EHR administrator.",
        )
    return {k: str(v) for k, v in endpoints.items()}


def _exchange(client: OAuth2Session, pending: Pending, code: str) -> dict[str, Any]:
    """Trade the code (with the PKCE verifier) for a token at the EHR's token endpoint."""
    try:
        token = client.fetch_token(
            pending.token_endpoint,
            code=code,
            code_verifier=pending.code_verifier,
            redirect_uri=pending.redirect_uri,
            timeout=HTTP_TIMEOUT,
        )
    except OAuthError as exc:
        logger.warning("SMART token request refused (%s)", exc.error)
        raise _Problem(
            502,
            "The EHR refused to issue access",
            f"The EHR's token endpoint answered “{str(exc.error)[:64]}”. The sign-in may "
            "have expired or been used already.",
            _RELAUNCH,
        ) from None
    except (requests.RequestException, ValueError):
        logger.warning("SMART token request failed (unreachable or not JSON)")
        raise _Problem(
            502,
            "The EHR's token endpoint could not be reached",
            "The app could not complete the sign-in.",
            "Try again in a moment; if it persists, tell your EHR administrator.",
        ) from None
    return dict(token)


def _fhir_problem(exc: FhirError) -> _Problem:
    """The page for a FHIR failure: its status from the error tree's one mapping, its words here."""
    status = http_status(exc)
    if isinstance(exc, FhirAuthError):
        return _Problem(
            status,
            "The EHR no longer grants access",
            "The FHIR server refused the app's access token (it may have expired or been revoked).",
            _RELAUNCH,
        )
    if isinstance(exc, FhirTimeout):
        return _Problem(
            status,
            "The EHR's FHIR server did not answer in time",
            "The patient's record could not be read in time.",
            "Try again in a moment.",
        )
    if isinstance(exc, FhirNotFound):
        return _Problem(
            status,
            "Patient not found",
            "The FHIR server has no record of this patient.",
            _RELAUNCH,
        )
    return _Problem(
        status,
        "The EHR's FHIR server could not be read",
        "The FHIR server gave an answer the app cannot use.",
        "Try again in a moment; if it persists, tell your EHR administrator.",
    )
