"""Real loopback servers for integration tests: sekmet-fhir, and any WSGI app in a thread."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

SEKMET_BIN = os.environ.get("SEKMET_BIN", "/work/main/.venv-fhir/bin/sekmet")
_TIMEOUT = (3.05, 30.0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def sekmet_server(tmp_dir: Path, *, start_timeout: float = 30.0) -> Iterator[str]:
    """Run a real sekmet-fhir server on loopback; yield its FHIR base URL (no trailing slash)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    settings = tmp_dir / "settings.yaml"
    settings.write_text(
        f"base_url: {base}\n"
        "host: 127.0.0.1\n"
        f"port: {port}\n"
        f"data_dir: {tmp_dir / 'data'}\n"
        "simulator: {enabled: false}\n"
        "server_auth: {types: [none]}\n"
        "log_inbound: false\n",
        encoding="utf-8",
    )
    log = (tmp_dir / "sekmet.log").open("wb")
    proc = subprocess.Popen(  # fixed binary and arguments, no shell
        [SEKMET_BIN, "serve", "-c", str(settings)],
        cwd=tmp_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(f"{base}/metadata", proc, start_timeout)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"sekmet exited with {proc.returncode}; see sekmet.log")
        try:
            if requests.get(url, timeout=(1.0, 5.0)).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"sekmet did not answer {url} within {limit} s")


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 with a free port in a thread; yield its root URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def load_bundle(fhir_base: str, bundle: dict[str, Any]) -> None:
    """Load a Bundle: POST a transaction/batch; PUT each resource of any other Bundle type."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if bundle.get("type") in ("transaction", "batch"):
        r = requests.post(fhir_base, json=bundle, headers=headers, timeout=_TIMEOUT)
        r.raise_for_status()
        return
    for entry in bundle.get("entry", []):
        res = entry["resource"]
        url = f"{fhir_base}/{res['resourceType']}/{res['id']}"
        requests.put(url, json=res, headers=headers, timeout=_TIMEOUT).raise_for_status()
