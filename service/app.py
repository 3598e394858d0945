"""The Flask application factory: wires the CDS Hooks protocol to the relapsed-ALL engine."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from importlib import resources
from typing import Any

import requests
from flask import Flask, render_template, request

from cds_hooks.auth import (
    Authenticator,
    JwtAuthenticator,
    NoAuth,
    SqlJtiStore,
    load_trusted_issuers,
)
from cds_hooks.blueprint import HooksConfig, create_blueprint
from cds_hooks.discovery import ServiceDefinition
from cds_hooks.feedback import FeedbackStore
from cds_hooks.fhir import FhirClient
from cds_hooks.models import Card, HookRequest
from cds_hooks.prefetch import Prefetched
from cds_hooks.servers import LOOPBACK, FhirServers
from mappings.codesets import CodeSets, load_codesets
from service.cards import build_cards
from service.demo.catalog import demo_patients
from service.engine import (
    REQUIRED_KEYS,
    EngineResult,
    assess_resources,
    fetch_and_assess,
    prefetch_templates,
)
from service.ops import create_ops_blueprint
from service.settings import Settings, SettingsError, local_today
from service.smart import SmartConfig, create_smart_blueprint
from service.warmup import warm_up

log = logging.getLogger(__name__)

SERVICE_ID = "relapsed-all-risk"
HOOK_PATH = f"/cds-services/{SERVICE_ID}"
# Read once: the OpenAPI 3.1 description of the CDS Hooks endpoints (for clients and fuzzing).
OPENAPI = (resources.files("service") / "openapi.json").read_bytes()
# A hook request is a few hundred kB even with a large prefetch; refuse what is not one.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: Callable[[], requests.Session] = requests.Session,
    today: Callable[[], date] = local_today,
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
    hooks = HooksConfig(
        authenticator=_authenticator(settings, session_factory, feedback),
        feedback_store=feedback,
        session_factory=session_factory,
        public_url=settings.public_url,
        cors_origins=settings.cors_origins,
        fhir_timeout=(settings.fhir_connect_timeout, settings.fhir_read_timeout),
        deadline_seconds=settings.deadline_seconds,
        max_pages=settings.max_pages,
    )
    service = ServiceDefinition(
        id=SERVICE_ID,
        hook="patient-view",
        title="Relapsed childhood ALL: risk group and pathway",
        description=(
            "Classifies a first relapse of acute lymphoblastic leukaemia by the BFM, ALLR3, COG, "
            "IntReALL and InPOG-ALL-R1 schemes and suggests the pathway, with rule ids, inputs "
            "and evidence. Decision support, not a decision."
        ),
        prefetch=prefetch_templates(codes),
        handler=_handler(settings, codes, today),
        required_prefetch=REQUIRED_KEYS,
        usage_requirements=(
            "Grant read access to Patient, Condition, Observation, Procedure and CarePlan; "
            "code relapse Conditions with an onset date and body sites."
        ),
    )
    app.register_blueprint(create_blueprint([service], hooks))
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
    # The demo patients are listed only when a demo EHR can launch them.
    patients = demo_patients() if settings.demo_ehr_url else []
    app.add_url_rule(
        "/",
        "start",
        lambda: render_template("start.html", patients=patients, ehr=settings.demo_ehr_url),
    )
    warm_up(codes, settings.primary_scheme)
    return app


def _smart_config(settings: Settings) -> SmartConfig:
    return SmartConfig(
        client_id=settings.smart_client_id,
        redirect_url=settings.smart_redirect_url,
        scopes="openid fhirUser",
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


def _handler(
    settings: Settings, codes: CodeSets, today: Callable[[], date]
) -> Callable[[HookRequest, Prefetched], Sequence[Card]]:
    def handle(hook: HookRequest, prefetched: Prefetched) -> Sequence[Card]:
        resources: list[Mapping[str, Any]] = [
            resource for found in prefetched.resources.values() for resource in found
        ]
        result = assess_resources(
            resources,
            codes=codes,
            primary=settings.primary_scheme,
            as_of=today(),
            failures=prefetched.failures,
        )
        base = settings.public_url or request.url_root.rstrip("/")
        return build_cards(result, app_url=f"{base}/app/launch")

    return handle
