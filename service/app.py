"""The Flask application factory: wires the CDS Hooks protocol to the relapsed-ALL engine."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from importlib import resources
from typing import Any

import requests
from flask import Flask, request

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
from cds_hooks.models import Card, HookRequest
from cds_hooks.prefetch import Prefetched
from mappings.codesets import CodeSets, load_codesets
from service.cards import build_cards
from service.engine import REQUIRED_KEYS, assess_resources, prefetch_templates
from service.settings import Settings, SettingsError, local_today

log = logging.getLogger(__name__)

SERVICE_ID = "relapsed-all-risk"
# Read once: the OpenAPI 3.1 description of the CDS Hooks endpoints (for clients and fuzzing).
OPENAPI = (resources.files("service") / "openapi.json").read_bytes()


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

    hooks = HooksConfig(
        authenticator=_authenticator(settings, session_factory),
        feedback_store=FeedbackStore(settings.database_url),
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
    app.add_url_rule(
        "/openapi.json",
        "openapi",
        lambda: app.response_class(OPENAPI, mimetype="application/json"),
    )
    return app


def _authenticator(
    settings: Settings, session_factory: Callable[[], requests.Session]
) -> Authenticator:
    if settings.auth == "none":
        log.warning("RELAPSE_CDS_AUTH=none: CDS Hooks requests are NOT authenticated")
        return NoAuth()
    if settings.trusted_issuers is None:
        raise SettingsError("RELAPSE_CDS_TRUSTED_ISSUERS is required when RELAPSE_CDS_AUTH=jwt")
    return JwtAuthenticator(
        load_trusted_issuers(settings.trusted_issuers),
        session_factory(),
        SqlJtiStore(settings.database_url),
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
