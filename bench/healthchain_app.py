"""HealthChain serving patient-view, for the side-by-side rows of `python -m bench`.

Runs in its own virtualenv (.venv-healthchain, built by `make bench`): it imports HealthChain and
the standard library only. Two services on one app, on the same payload as ours:
`/fixed/cds-services/bench` returns a fixed card; `/validating/cds-services/bench` first builds
the prefetch into HealthChain's FHIR models (fhir.resources R4B) and refuses to answer a card when
any key was left as plain JSON (HealthChain keeps what does not validate as a dict, with a
warning).
"""

from __future__ import annotations

from typing import Any

# HealthChain is not in the project's virtualenv, where mypy runs.
from healthchain.fhir import convert_prefetch_to_fhir_objects  # type: ignore[import-not-found]
from healthchain.fhir.r4b import Resource  # type: ignore[import-not-found]
from healthchain.gateway import CDSHooksService, HealthChainAPI  # type: ignore[import-not-found]
from healthchain.gateway.cds import CDSHooksConfig  # type: ignore[import-not-found]
from healthchain.models import CDSRequest, CDSResponse  # type: ignore[import-not-found]

CARD = {"summary": "floor", "indicator": "info", "source": {"label": "bench"}}


def fixed(request: CDSRequest) -> CDSResponse:
    return CDSResponse(cards=[CARD])


def validating(request: CDSRequest) -> CDSResponse:
    models = convert_prefetch_to_fhir_objects(request.prefetch or {})
    unread = sorted(key for key, value in models.items() if not isinstance(value, Resource))
    if unread:
        raise ValueError(f"prefetch keys not valid FHIR: {unread}")
    return CDSResponse(cards=[CARD])


def build() -> Any:
    app = HealthChainAPI(title="bench", enable_events=False)
    for path, handler in (("/fixed", fixed), ("/validating", validating)):
        service = CDSHooksService(config=CDSHooksConfig(base_path=path), use_events=False)
        service.hook("patient-view", id="bench")(handler)
        app.register_service(service, path=path)
    return app
