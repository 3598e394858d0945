"""Local servers for the demo and the tests: sekmet-fhir in a subprocess, WSGI apps in threads."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import requests
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def sekmet_server(
    binary: Path | str, data_dir: Path, *, port: int = 0, start_timeout: float = 60.0
) -> Iterator[str]:
    """Run sekmet-fhir (a FHIR R4 server on SQLite) on loopback; yield its FHIR base URL."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = data_dir / "settings.yaml"
    settings.write_text(
        f"base_url: {base}\n"
        "host: 127.0.0.1\n"
        f"port: {port}\n"
        f"data_dir: {data_dir / 'data'}\n"
        "simulator: {enabled: false}\n"
        "server_auth: {types: [none]}\n"
        "log_inbound: false\n",
        encoding="utf-8",
    )
    with (
        (data_dir / "sekmet.log").open("wb") as log,
        subprocess_server(
            [str(Path(binary).absolute()), "serve", "-c", str(settings)],
            probe=f"{base}/metadata",
            log=log,
            cwd=data_dir,
            limit=start_timeout,
        ),
    ):
        yield base


@contextmanager
def subprocess_server(
    argv: list[str],
    *,
    probe: str,
    log: IO[bytes] | int = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    limit: float = 60.0,
    ready: Callable[[subprocess.Popen[bytes]], bool] = lambda _: True,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until the block ends; wait until `probe` answers and `ready(proc)`."""
    proc = subprocess.Popen(  # noqa: S603  # the caller's fixed argv, no shell
        argv, cwd=cwd, env=None if env is None else dict(env), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_until_up(probe, proc, limit, ready)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_until_up(
    url: str,
    proc: subprocess.Popen[bytes],
    limit: float,
    ready: Callable[[subprocess.Popen[bytes]], bool],
) -> None:
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=(1.0, 5.0)).ok and ready(proc):
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {limit} s")


@contextmanager
def wsgi_server(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a WSGI app in a thread; yield its root URL."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
