"""Prometheus metrics of the CDS Hooks calls and FHIR reads; never a patient id or a URL.

Labels are bounded and carry no data: the service id (from the served list), the endpoint, the
HTTP status and the kind of FHIR failure. prometheus_client picks its multiprocess mode when it is
first imported, so it is imported on first use: `relapse-cds serve` sets PROMETHEUS_MULTIPROC_DIR
before that, every gunicorn worker writes its own files and `/metrics` adds them up.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from typing import Any

_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)


@dataclass(frozen=True)
class _Metrics:
    calls: Any
    call_seconds: Any
    fhir_read_seconds: Any
    fhir_read_failures: Any


_lock = threading.Lock()
_created: list[_Metrics] = []


def _metrics() -> _Metrics:
    # Once per process, under a lock: two threads registering the same name is an error.
    with _lock:
        if not _created:
            _created.append(_create())
        return _created[0]


def _create() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        calls=Counter(
            "relapse_cds_calls",
            "CDS Hooks requests, by service, endpoint (hook, feedback, discovery) and HTTP status",
            ["service", "endpoint", "status"],
        ),
        call_seconds=Histogram(
            "relapse_cds_call_seconds",
            "Duration of a CDS Hooks request, by service and endpoint",
            ["service", "endpoint"],
            buckets=_SECONDS,
        ),
        fhir_read_seconds=Histogram(
            "relapse_cds_fhir_read_seconds",
            "Duration of one GET to a FHIR server (answered or not)",
            buckets=_SECONDS,
        ),
        fhir_read_failures=Counter(
            "relapse_cds_fhir_read_failures",
            "FHIR GETs that failed, by kind of failure",
            ["kind"],
        ),
    )


def import_client() -> None:
    """Import prometheus_client now: its import (~0.1 s) would otherwise fall on each worker's
    first request. Call it before gunicorn forks and after PROMETHEUS_MULTIPROC_DIR is set."""
    importlib.import_module("prometheus_client")


def observe_call(service: str, endpoint: str, status: int, seconds: float) -> None:
    """`service` must be one of the served ids (or "-"): labels are never taken from a request."""
    metrics = _metrics()
    metrics.calls.labels(service=service, endpoint=endpoint, status=str(status)).inc()
    metrics.call_seconds.labels(service=service, endpoint=endpoint).observe(seconds)


def observe_fhir_read(seconds: float, failure: str | None) -> None:
    """One FHIR GET; `failure` is the name of its error class, or None."""
    metrics = _metrics()
    metrics.fhir_read_seconds.observe(seconds)
    if failure is not None:
        metrics.fhir_read_failures.labels(kind=failure).inc()


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type, added up over processes in multiprocess mode."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    _metrics()  # every metric is listed, at 0, before its first use
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
