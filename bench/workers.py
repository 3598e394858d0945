"""`python -m bench.workers`: sync workers against the threaded worker `serve` uses, one run.

Both with 2 workers on the same synthetic patient-view call (20-resource prefetch): p50 and p99
of calls one after another, then of the same calls while 4 hook calls wait on a FHIR server that
never answers (each held until the hook's deadline). Prints a Markdown table for the README.
"""

from __future__ import annotations

import importlib.util
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.__main__ import percentile
from bench.data import hook_body, prefetch_of, synthetic_record
from bench.servers import gunicorn_app, service_env
from service.server import THREADS, WORKER_CLASS

SAMPLES = 200
HANGING = 4
DEADLINE = 3.0
MODELS = [("sync", "sync", 1), ("gthread (serve)", WORKER_CLASS, THREADS)]
# The async alternative, measured when gevent is installed (it is not a dependency).
if importlib.util.find_spec("gevent") is not None:
    MODELS.append(("gevent", "gevent", 1))
HOOK = "/cds-services/relapsed-all-risk"


@contextmanager
def silent_fhir_server() -> Iterator[str]:
    """Accepts connections and never answers (until the bench ends)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()
    listener.settimeout(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def timed(url: str, n: int, stop_at: float | None = None) -> list[float]:
    body = hook_body("bench-1", prefetch_of(synthetic_record(20)))
    times: list[float] = []
    with requests.Session() as session:
        for _ in range(n):
            if stop_at is not None and time.monotonic() > stop_at:
                break
            started = time.perf_counter()
            response = session.post(url, json=body, timeout=(3.05, 30))
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return times


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, silent_fhir_server() as fhir:
        env = service_env(f"sqlite:///{Path(tmp) / 'db.sqlite3'}", deadline_seconds=str(DEADLINE))
        for name, worker_class, threads in MODELS:
            with gunicorn_app(
                "bench.app:build()", env, worker_class=worker_class, threads=threads
            ) as served:
                url = served.url + HOOK
                timed(url, 20)  # warm-up
                quiet = timed(url, SAMPLES)
                hanging = hook_body("rel-1", None, fhirServer=fhir)
                with ThreadPoolExecutor(HANGING) as pool:
                    for _ in range(HANGING):
                        pool.submit(requests.post, url, json=hanging, timeout=30)
                    time.sleep(0.3)
                    busy = timed(url, SAMPLES, stop_at=time.monotonic() + DEADLINE - 0.5)
            rows.append(
                f"| {name} | {percentile(quiet, 0.5):.1f} / {percentile(quiet, 0.99):.1f} ms "
                f"| {percentile(busy, 0.5):.1f} / {percentile(busy, 0.99):.1f} ms "
                f"({len(busy)} calls) |"
            )
    print(f"| 2 workers | p50 / p99 | p50 / p99 with {HANGING} calls on a silent FHIR server |")
    print("|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
