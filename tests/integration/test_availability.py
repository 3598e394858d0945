"""Slow clients and hanging FHIR servers do not stop the service, nor leave threads or sockets.

gunicorn with 2 workers, as `relapse-cds serve` runs it; 4 clients dribbling their headers and 4
hook calls whose FHIR server dribbles one byte a second, all at once; a healthy call meanwhile.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from bench.data import hook_body, prefetch_of, synthetic_record
from bench.servers import Served, relapse_cds_serve, service_env
from service.server import THREADS

pytestmark = pytest.mark.integration

DEADLINE = 2.0
READ_SECONDS = 3.0
HOOK = "/cds-services/relapsed-all-risk"
SLOW_CLIENTS = 4
HANGING_CALLS = 4
POOL_SLACK = 2
# Dribblers stop by themselves after this long at the latest (bounded loops).
DRIBBLE_SECONDS = 30


@contextmanager
def dribbling_fhir_server() -> Iterator[str]:
    """A FHIR server that answers one byte a second, for ever (well: DRIBBLE_SECONDS)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def dribble(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n")
                for _ in range(DRIBBLE_SECONDS):
                    if stop.wait(1.0):
                        return
                    conn.sendall(b"X")
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=dribble, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    finally:
        stop.set()
        acceptor.join()
        listener.close()


def slow_header_client(url: str) -> float:
    """Sends a request line and then one header byte a second; how long until it was cut."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"POST {HOOK} HTTP/1.1\r\nHost: {host}\r\n".encode())
        try:
            for _ in range(DRIBBLE_SECONDS):
                conn.sendall(b"X")
                time.sleep(1.0)
        except OSError:
            pass  # cut by the server while sending
    return time.monotonic() - started


def counts(served: Served) -> tuple[int, int]:
    """Threads and sockets of all workers."""
    threads = sockets = 0
    for pid in served.worker_pids():
        threads += len(list(Path(f"/proc/{pid}/task").iterdir()))
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                sockets += fd.readlink().name.startswith("socket:")
            except FileNotFoundError:
                continue
    return threads, sockets


def settled(served: Served, target: tuple[int, int], seconds: float = 8.0) -> tuple[int, int]:
    """Counts once they are at most `target` (or the last counts after `seconds`)."""
    stop = time.monotonic() + seconds
    now = counts(served)
    while time.monotonic() < stop and (now[0] > target[0] or now[1] > target[1]):
        time.sleep(0.25)
        now = counts(served)
    return now


def test_slow_clients_and_hanging_fhir_servers_leave_the_service_answering(
    tmp_path: Path,
) -> None:
    env = service_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        deadline_seconds=str(DEADLINE),
        request_read_seconds=str(READ_SECONDS),
    )
    healthy = hook_body("bench-1", prefetch_of(synthetic_record(20)))
    with dribbling_fhir_server() as fhir, relapse_cds_serve(env, log=tmp_path / "s.log") as served:
        url = served.url + HOOK
        assert requests.post(url, json=healthy, timeout=10).status_code == 200

        def bad_load() -> tuple[list[float], list[int]]:
            hanging = hook_body("rel-1", None, fhirServer=fhir)
            with ThreadPoolExecutor(SLOW_CLIENTS + HANGING_CALLS) as pool:
                slow = [pool.submit(slow_header_client, served.url) for _ in range(SLOW_CLIENTS)]
                calls = [
                    pool.submit(requests.post, url, json=hanging, timeout=30)
                    for _ in range(HANGING_CALLS)
                ]
                time.sleep(0.5)  # all of them are in
                started = time.monotonic()
                answer = requests.post(url, json=healthy, timeout=10)
                took = time.monotonic() - started
                assert answer.status_code == 200
                assert took < 1.0, f"a healthy call took {took:.2f} s under slow peers"
                return [s.result() for s in slow], [c.result().status_code for c in calls]

        # gthread starts its pool threads on demand: fill both pools first (more clients than
        # threads), so that the thread count of the baseline is what the workers keep.
        with ThreadPoolExecutor(3 * THREADS) as pool:
            list(pool.map(slow_header_client, [served.url] * (3 * THREADS)))
        baseline = counts(served)
        cut_after, statuses = bad_load()
        # The hook's deadline answers (412: the patient could not be read), the read deadline cuts.
        assert statuses == [412] * HANGING_CALLS
        assert all(t < READ_SECONDS + 3 for t in cut_after), cut_after
        # The FHIR server is still dribbling: its threads and sockets must be gone all the same.
        # A pool that the warm-up did not fill may still start a thread or two (a busy machine
        # spreads the clients unevenly); a leak is one thread per query: 5 a hanging call.
        after = settled(served, (baseline[0] + POOL_SLACK, baseline[1]))
        assert after[0] <= baseline[0] + POOL_SLACK, f"threads: {baseline[0]} before, {after[0]}"
        assert after[1] <= baseline[1], f"sockets: {baseline[1]} before, {after[1]} after"
