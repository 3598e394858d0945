"""What one CDS service module declares, and what it is given to build its handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from cds_hooks.discovery import Handler, ServiceDefinition
from mappings.codesets import CodeSets
from service.settings import Settings


@dataclass(frozen=True)
class HookEnv:
    """The configuration every handler may read; `today` is the clock (passed, never read)."""

    settings: Settings
    codes: CodeSets
    today: Callable[[], date]


@dataclass(frozen=True)
class HookModule:
    """One CDS service: its discovery entry, prefetch templates, required keys and handler.

    A new service is one module under `service/hooks/` holding a `HOOK = HookModule(...)`,
    listed in `service.hooks.REGISTERED`.
    """

    id: str
    hook: str
    title: str
    description: str
    prefetch: Callable[[CodeSets], Mapping[str, str]]
    handler: Callable[[HookEnv], Handler]
    required_keys: frozenset[str] = frozenset()
    usage_requirements: str | None = None

    def definition(self, env: HookEnv) -> ServiceDefinition:
        return ServiceDefinition(
            id=self.id,
            hook=self.hook,
            title=self.title,
            description=self.description,
            prefetch=dict(self.prefetch(env.codes)),
            handler=self.handler(env),
            required_prefetch=self.required_keys,
            usage_requirements=self.usage_requirements,
        )

    @property
    def path(self) -> str:
        return f"/cds-services/{self.id}"
