"""The Flask application factory: wires the CDS Hooks protocol to the relapsed-ALL engine."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from importlib import resources

import requests
from flask import Flask, render_template
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.auth import (
    Authenticator,
    JwtAuthenticator,
    NoAuth,
    SqlJtiStore,
    load_trusted_issuers,
)
from cds_hooks.blueprint import HooksConfig, create_blueprint
from cds_hooks.feedback import FeedbackStore
from cds_hooks.fhir import FhirClient
from cds_hooks.servers import LOOPBACK, FhirServers
from mappings.codesets import CodeSets, load_codesets
from service.demo.catalog import demo_patients
from service.engine import EngineResult, fetch_and_assess
from service.hooks import REGISTERED, HookEnv, HookModule, patient_view
from service.ops import create_ops_blueprint
from service.settings import Settings, SettingsError, local_today
from service.smart import SmartConfig, create_smart_blueprint
from service.warmup import WORKER_WARM_UP, warm_up

log = logging.getLogger(__name__)

SERVICE_ID = patient_view.HOOK.id
HOOK_PATH = patient_view.HOOK.path
# Read once: the OpenAPI 3.1 description of the CDS Hooks endpoints (for clients and fuzzing).
OPENAPI = (resources.files("service") / "openapi.json").read_bytes()
# Browsers ask the origin's root for an icon when a page (or a JSON answer) names none.
FAVICON = (resources.files("service") / "smart/static/favicon.svg").read_bytes()
# A hook request is a few hundred kB even with a large prefetch; refuse what is not one.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: Callable[[], requests.Session] = requests.Session,
    today: Callable[[], date] = local_today,
    hooks: Sequence[HookModule] = REGISTERED,
) -> Flask:
    settings = settings or Settings.from_env()
    codes = load_codesets(settings.codesets)
    app = Flask(__name__)
    app.config["RELAPSE_SETTINGS"] = settings
    app.secret_key = settings.session_secret
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

    feedback = FeedbackStore(
        settings.database_url, card_lifetime=timedelta(days=settings.card_retention_days)
    )
    config = HooksConfig(
        authenticator=_authenticator(settings, session_factory, feedback),
        feedback_store=feedback,
        session_factory=session_factory,
        public_url=settings.public_url,
        cors_origins=settings.cors_origins,
        fhir_timeout=(settings.fhir_connect_timeout, settings.fhir_read_timeout),
        deadline_seconds=settings.deadline_seconds,
        max_pages=settings.max_pages,
    )
    env = HookEnv(settings=settings, codes=codes, today=today)
    app.register_blueprint(create_blueprint([hook.definition(env) for hook in hooks], config))
    app.register_blueprint(
        create_smart_blueprint(
            _smart_config(settings), _smart_assess(settings, codes, today), feedback.engine
        )
    )
    app.register_blueprint(create_ops_blueprint(feedback.engine, codes))
    app.add_url_rule(
        "/openapi.json",
        "openapi",
        lambda: app.response_class(OPENAPI, mimetype="application/json"),
    )
    app.add_url_rule(
        "/favicon.ico",
        "favicon",
        lambda: app.response_class(
            FAVICON, mimetype="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        ),
    )
    # The demo patients are listed only when a demo EHR can launch them.
    patients = demo_patients() if settings.demo_ehr_url else []
    app.add_url_rule(
        "/",
        "start",
        lambda: render_template("start.html", patients=patients, ehr=settings.demo_ehr_url),
    )
    warm_up(codes, settings.primary_scheme)

    def warm_worker() -> None:
        warm_up(codes, settings.primary_scheme)
        # What else a hook call runs on, and nothing recorded: Flask's request cycle, and the
        # issued-card table's transaction (forgetting expired cards, as each call does).
        app.test_client().options(HOOK_PATH)
        try:
            feedback.record_issued(SERVICE_ID, [])
        except SQLAlchemyError:
            # A worker starts without its database, as it did before: /readyz says so.
            log.warning("worker warm-up: the database did not answer")

    app.extensions[WORKER_WARM_UP] = warm_worker
    return app


def _smart_config(settings: Settings) -> SmartConfig:
    return SmartConfig(
        client_id=settings.smart_client_id,
        redirect_url=settings.smart_redirect_url,
        scopes=settings.smart_scopes,
        scope_style="v1" if settings.smart_scope_style == "v1" else "v2",
        client_secret=settings.smart_client_secret,
        session_secret=settings.session_secret,
        allowed_issuers=settings.smart_allowed_issuers,
    )


def _smart_assess(
    settings: Settings, codes: CodeSets, today: Callable[[], date]
) -> Callable[[FhirClient, str], EngineResult]:
    def assess(client: FhirClient, patient_id: str) -> EngineResult:
        return fetch_and_assess(
            client,
            patient_id,
            codes=codes,
            primary=settings.primary_scheme,
            as_of=today(),
            deadline=time.monotonic() + settings.deadline_seconds,
        )

    return assess


def _authenticator(
    settings: Settings,
    session_factory: Callable[[], requests.Session],
    feedback: FeedbackStore,
) -> Authenticator:
    if settings.auth == "none":
        log.warning("RELAPSE_CDS_AUTH=none: CDS Hooks requests are NOT authenticated")
        servers = FhirServers.of(settings.fhir_servers, "RELAPSE_CDS_FHIR_SERVERS")
        return NoAuth(servers if settings.fhir_servers else LOOPBACK)
    if settings.trusted_issuers is None:
        raise SettingsError("RELAPSE_CDS_TRUSTED_ISSUERS is required when RELAPSE_CDS_AUTH=jwt")
    return JwtAuthenticator(
        load_trusted_issuers(settings.trusted_issuers),
        session_factory(),
        # Replays are refused across gunicorn workers: they share the feedback database.
        SqlJtiStore(feedback.engine),
        max_lifetime=settings.jwt_max_lifetime_seconds,
    )
