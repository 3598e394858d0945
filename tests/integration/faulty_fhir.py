"""A FHIR server that misbehaves on purpose: a WSGI proxy in front of a real one.

Each fault is what EHR FHIR servers do in the wild; the hook must answer 412 or a card naming
what could not be read, never a 5xx, and always within its deadline.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
FHIR_JSON = [("Content-Type", "application/fhir+json")]


@dataclass
class Fault:
    delay: float = 0.0  # seconds before answering
    status: int | None = None  # answer this status with an OperationOutcome
    body: bytes | None = None  # answer this raw body with 200 (HTML, truncated JSON…)
    content_type: str = "application/fhir+json"
    require_token: str | None = None  # 401 unless `Authorization: Bearer <token>`
    paging_loop: bool = False  # searchsets link `next` to themselves
    only: str | None = None  # fault only requests whose path starts with this
    collapse_slashes: bool = False  # "//" → "/" in the query, as some proxies normalise URLs


class FaultyFhir:
    """WSGI app: forwards to `upstream` unless the current `fault` says otherwise."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = Fault()
        self.seen_authorization: list[str | None] = []

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        auth = environ.get("HTTP_AUTHORIZATION")
        self.seen_authorization.append(auth)
        fault = self.fault
        if fault.only and not path.startswith(fault.only):
            fault = Fault()
        if fault.delay:
            time.sleep(fault.delay)
        if fault.require_token and auth != f"Bearer {fault.require_token}":
            return _answer(start, 401, _outcome("security", "token required"))
        if fault.status:
            return _answer(start, fault.status, _outcome("exception", "injected fault"))
        if fault.body is not None:
            start("200 OK", [("Content-Type", fault.content_type)])
            return [fault.body]
        fhir_path = path.removeprefix("/fhir")
        if fault.collapse_slashes:
            query = re.sub("/{2,}", "/", query)
        url = f"{self.upstream}{fhir_path}" + (f"?{query}" if query else "")
        upstream = requests.get(url, headers={"Accept": "application/fhir+json"}, timeout=10)
        payload = upstream.json()
        if fault.paging_loop and payload.get("resourceType") == "Bundle":
            me = f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}{path}?{query}"
            payload["link"] = [{"relation": "self", "url": me}, {"relation": "next", "url": me}]
        else:
            _rebase_links(payload, self.upstream, _own_base(environ))
        return _answer(start, upstream.status_code, payload)


def _own_base(environ: dict[str, Any]) -> str:
    return f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}/fhir"


def _rebase_links(payload: dict[str, Any], upstream: str, own: str) -> None:
    for link in payload.get("link", []) if payload.get("resourceType") == "Bundle" else []:
        link["url"] = link["url"].replace(upstream, own)


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _answer(start: StartResponse, status: int, payload: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "X")
    start(f"{status} {reason}", FHIR_JSON)
    return [json.dumps(payload).encode()]
