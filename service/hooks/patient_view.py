"""`relapsed-all-risk` (patient-view): risk group and pathway of a relapsed ALL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import request

from cds_hooks.discovery import Handler
from cds_hooks.models import Card, HookRequest
from cds_hooks.prefetch import Prefetched
from service.cards import build_cards
from service.engine import REQUIRED_KEYS, RESOURCE_TYPES, assess_resources, prefetch_templates
from service.hooks.base import HookEnv, HookModule


def _handler(env: HookEnv) -> Handler:
    def handle(hook: HookRequest, prefetched: Prefetched) -> Sequence[Card]:
        resources: list[Mapping[str, Any]] = [
            resource for found in prefetched.resources.values() for resource in found
        ]
        result = assess_resources(
            resources,
            codes=env.codes,
            primary=env.settings.primary_scheme,
            as_of=env.today(),
            failures=prefetched.failures,
            check=prefetched.check_deadline,
        )
        base = env.settings.public_url or request.url_root.rstrip("/")
        # Without an allowed issuer every launch is refused: no link to a page that says so.
        app_url = f"{base}/app/launch" if env.settings.smart_allowed_issuers else None
        return build_cards(result, app_url=app_url)

    return handle


HOOK = HookModule(
    id="relapsed-all-risk",
    hook="patient-view",
    title="Relapsed childhood ALL: risk group and pathway",
    description=(
        "Classifies a first relapse of acute lymphoblastic leukaemia by the BFM, ALLR3, COG, "
        "IntReALL and InPOG-ALL-R1 schemes and suggests the pathway, with rule ids, inputs "
        "and evidence. Decision support, not a decision."
    ),
    prefetch=prefetch_templates,
    handler=_handler,
    required_keys=REQUIRED_KEYS,
    usage_requirements=(
        f"Grant read access to {', '.join(RESOURCE_TYPES[:-1])} and {RESOURCE_TYPES[-1]}; "
        "code relapse Conditions with an onset date and body sites."
    ),
)
