"""Real loopback servers for integration tests: the package's own server helpers, plus loading."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from service.demo import servers
from service.demo.servers import free_port, wsgi_server

__all__ = ["SEKMET_BIN", "free_port", "load_bundle", "sekmet_server", "wsgi_server"]

# `make test` sets SEKMET_BIN; the default is where the Makefile installs it.
SEKMET_BIN = Path(os.environ.get("SEKMET_BIN", Path(__file__).parents[1] / ".venv-fhir/bin/sekmet"))
_TIMEOUT = (3.05, 30.0)


@contextmanager
def sekmet_server(tmp_dir: Path) -> Iterator[str]:
    """A real sekmet-fhir server on loopback; yields its FHIR base URL (no trailing slash)."""
    with servers.sekmet_server(SEKMET_BIN, tmp_dir) as base:
        yield base


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
