"""Prefetch templates (CDS Hooks 2.0 §prefetch) and their resolution.

Data the EHR sent is used as is; keys it left out are fetched from fhirServer in parallel.
A failure never turns into "no data": `null` is no data, anything that went wrong is a failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from cds_hooks.errors import DeadlinePassed, FhirError, PrefetchFailure
from cds_hooks.fhir import FhirClient, bundle_resources, next_link, outcome_error_code
from cds_hooks.models import HookRequest

_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
# 2.0 user tokens: the id part of context.userId when it is of that resource type.
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class TemplateError(ValueError):
    """A template token has no value in this hook call."""


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Replace `{{context.X}}` and user tokens with URL-encoded values; TemplateError if absent."""

    def value_of(match: re.Match[str]) -> str:
        token = match.group(1)
        if token in _USER_TOKENS:
            kind, _, ident = str(context.get("userId", "")).partition("/")
            if kind != _USER_TOKENS[token] or not ident:
                raise TemplateError(f"{token} is not available for this user")
            return quote(ident, safe="")
        name = token.removeprefix("context.")
        if name == token or "." in name:
            raise TemplateError(f"unsupported token {token}")
        value = context.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise TemplateError(f"context.{name} is not available")
        return quote(str(value), safe="")

    return _TOKEN.sub(value_of, template)


@dataclass(frozen=True)
class Prefetched:
    """Resources by prefetch key (present = data, possibly []) and failures by key, with the
    hook's `deadline` (a time.monotonic() value) for the work that follows."""

    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, PrefetchFailure] = field(default_factory=dict)
    deadline: float | None = None

    def check_deadline(self) -> None:
        """DeadlinePassed once the deadline is past: long work calls this now and then, so a
        large record is answered at the deadline (503), not long after it."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlinePassed()

    def until(self, deadline: float) -> Prefetched:
        return replace(self, deadline=deadline)

    def get(self, key: str) -> list[dict[str, Any]] | None:
        """The resources for `key`, or None when that key failed or was never asked for."""
        return self.resources.get(key)


def resolve(
    request: HookRequest,
    templates: Mapping[str, str],
    client: FhirClient | None,
    deadline: float,
) -> Prefetched:
    """Resolve every template key; `deadline` is an absolute time.monotonic() value."""
    resources: dict[str, list[dict[str, Any]]] = {}
    failures: dict[str, PrefetchFailure] = {}
    sent = request.prefetch or {}
    to_fetch: dict[str, str] = {}
    for key, template in templates.items():
        if key in sent:
            _take_sent(key, sent[key], client, resources, failures)
            continue
        if client is None:
            failures[key] = PrefetchFailure(
                "not-found", "not provided (no prefetch and no fhirServer)"
            )
            continue
        try:
            to_fetch[key] = render_template(template, request.context)
        except TemplateError as exc:
            failures[key] = PrefetchFailure("exception", str(exc))
    if to_fetch and client is not None:
        fetched, fetch_failures = client.fetch_all(to_fetch, deadline)
        resources.update(fetched)
        failures.update(fetch_failures)
    return Prefetched(resources, failures)


def _take_sent(
    key: str,
    value: Any,
    client: FhirClient | None,
    resources: dict[str, list[dict[str, Any]]],
    failures: dict[str, PrefetchFailure],
) -> None:
    if value is None:
        resources[key] = []
        return
    code = outcome_error_code(value)
    if code is not None:
        failures[key] = PrefetchFailure(code, f"the EHR sent an OperationOutcome ({code})")
        return
    kind = value.get("resourceType")
    if not isinstance(kind, str):
        failures[key] = PrefetchFailure("invalid", "the EHR sent JSON that is not a FHIR resource")
        return
    if kind == "OperationOutcome":
        resources[key] = []
        return
    if kind != "Bundle":
        resources[key] = [value]
        return
    if next_link(value) is None:
        resources[key] = bundle_resources(value)
        return
    if client is None:
        failures[key] = PrefetchFailure(
            "incomplete", "incomplete: the Bundle has a next page and there is no fhirServer"
        )
        return
    try:
        resources[key] = client.entries_of(value)
    except FhirError as exc:
        failures[key] = PrefetchFailure(exc.issue_code, f"incomplete: {exc.message}")
