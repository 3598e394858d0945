"""Service definitions and the discovery document (CDS Hooks 2.0 §discovery)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.models import Card, HookRequest
from cds_hooks.prefetch import Prefetched

_SERVICE_ID = re.compile(r"[A-Za-z0-9\-_.]{1,64}")

Handler = Callable[[HookRequest, Prefetched], Sequence[Card]]


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    handler: Handler = field(repr=False)
    required_prefetch: frozenset[str] = frozenset()
    usage_requirements: str | None = None

    def __post_init__(self) -> None:
        if not _SERVICE_ID.fullmatch(self.id):
            raise ValueError(f"service id {self.id!r} is not a safe URL segment")
        unknown = self.required_prefetch - set(self.prefetch)
        if unknown:
            raise ValueError(f"required prefetch keys without a template: {sorted(unknown)}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
        }
        if self.prefetch:
            out["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            out["usageRequirements"] = self.usage_requirements
        return out


def discovery_document(services: Sequence[ServiceDefinition]) -> dict[str, Any]:
    return {"services": [service.to_json() for service in services]}
