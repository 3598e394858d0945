"""`relapse-cds serve`: the app under gunicorn, configured from the environment.

Worker model: gunicorn's threaded worker (`gthread`), so a hook call waiting on a slow FHIR server
holds one thread, not a whole worker; with sync workers two such calls stopped the service (see
the README's Performance section for the figures). Each request's headers and body must arrive
within `RELAPSE_CDS_REQUEST_READ_SECONDS` in total, however slowly a client dribbles them.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from service.app import create_app
from service.logs import configure_logging
from service.settings import Settings
from service.warmup import WORKER_WARM_UP

THREADS = 16
# Headers and body of one request, in total; `serve` sets it from the settings before forking.
_read_seconds = Settings.request_read_seconds
# Each send of the answer (a client that stops reading is cut after this).
WRITE_SECONDS = 10.0
WORKER_CLASS = "service.server.BoundedThreadWorker"


class _DeadlineSocket:
    """A client socket whose reads for one request all end by `deadline`.

    gunicorn reads a request with blocking `recv` calls and no overall limit, so a client sending
    one byte every few seconds keeps a thread for ever; each `recv` here waits only for what is
    left of the request's time, and past it reads as end of stream (gunicorn closes the
    connection; the app sees a truncated body).
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = time.monotonic() + _read_seconds

    def recv(self, size: int, flags: int = 0) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return b""
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size, flags)
        except TimeoutError:
            return b""

    def sendall(self, data: bytes, flags: int = 0) -> None:
        self._sock.settimeout(WRITE_SECONDS)
        self._sock.sendall(data, flags)

    def send(self, data: bytes, flags: int = 0) -> int:
        self._sock.settimeout(WRITE_SECONDS)
        return self._sock.send(data, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BoundedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """gthread, with a total read deadline per request (headers and body), warmed up before it
    accepts."""

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # `serve` (and --preload) build and warm the app before forking; this process's copy of
        # its memory is not warm (see service.warmup). Built here instead, it is warmed twice.
        warm = getattr(self.wsgi, "extensions", {}).get(WORKER_WARM_UP)
        if warm is not None:
            warm()

    def handle(self, conn: Any) -> Any:
        if isinstance(conn.sock, _DeadlineSocket):
            conn.sock.deadline = time.monotonic() + _read_seconds  # next keep-alive request
        else:
            conn.sock = _DeadlineSocket(conn.sock)
        return super().handle(conn)


def gunicorn_options(workers: int, threads: int = THREADS) -> dict[str, Any]:
    """The options `serve` runs gunicorn with (the bench and the tests use the same)."""
    return {
        "workers": workers,
        "worker_class": WORKER_CLASS,
        "threads": threads,
        "timeout": 30,
        # No gunicornc control socket: nothing is managed through it, and it would be one more
        # local way in (shared by every instance under the same home directory).
        "control_socket_disable": True,
        # gunicorn's access log would write request paths (patient ids) at INFO.
        "accesslog": None,
        "errorlog": "-",
    }


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(host: str, port: int, workers: int, threads: int = THREADS) -> None:
    configure_logging()
    # Built before forking, so every worker starts warm and configuration errors stop startup:
    # settings, an institution's code sets and the trusted issuers file are all read here.
    # Before prometheus_client is first imported (by the first metric): one file set per worker.
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="relapse-cds-metrics-")
    )
    settings = Settings.from_env()
    app = create_app(settings)
    global _read_seconds  # noqa: PLW0603  # read by the forked workers, set once here
    _read_seconds = settings.request_read_seconds
    _Gunicorn(app, {"bind": f"{host}:{port}", **gunicorn_options(workers, threads)}).run()
