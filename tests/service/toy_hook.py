"""A toy third service in one module (encounter-discharge): what a new hook takes to add."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cds_hooks import contexts
from cds_hooks.discovery import Handler
from cds_hooks.errors import BadRequest
from cds_hooks.models import Card, HookRequest, Source, is_fhir_id
from cds_hooks.prefetch import Prefetched
from mappings.codesets import CodeSets
from service.hooks.base import HookEnv, HookModule


def _context(context: Mapping[str, Any]) -> None:
    if not is_fhir_id(context.get("encounterId")):
        raise BadRequest("context.encounterId", "is required and must be a FHIR id")


contexts.register("encounter-discharge", _context)


def _prefetch(codes: CodeSets) -> dict[str, str]:
    return {"patient": "Patient/{{context.patientId}}"}


def _handler(env: HookEnv) -> Handler:
    def handle(hook: HookRequest, prefetched: Prefetched) -> Sequence[Card]:
        count = len(prefetched.get("patient") or [])
        return [
            Card(
                summary=f"Discharged on {env.today().isoformat()} ({count} patient)",
                indicator="info",
                source=Source("Toy"),
                uuid=str(uuid.uuid4()),
            )
        ]

    return handle


HOOK = HookModule(
    id="toy-discharge",
    hook="encounter-discharge",
    title="Toy",
    description="A third hook in one module",
    prefetch=_prefetch,
    handler=_handler,
    required_keys=frozenset({"patient"}),
)
