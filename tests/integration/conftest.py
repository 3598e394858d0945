"""Real servers for the integration tests: sekmet-fhir with the synthetic patients, our app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.app import create_app
from service.demo.catalog import DemoPatient, demo_patients, load_into
from service.settings import Settings
from tests.conftest import MCODE_EXAMPLE
from tests.integration.faulty_fhir import FaultyFhir
from tests.servers import sekmet_server, wsgi_server

DEADLINE = 2.0


@pytest.fixture(scope="session")
def fhir_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sekmet_server(tmp_path_factory.mktemp("sekmet")) as base:
        session = requests.Session()
        for patient in demo_patients():
            load_into(base, patient, session)
        mcode = json.loads(MCODE_EXAMPLE.read_text(encoding="utf-8"))
        session.post(
            base, json=mcode, headers={"Content-Type": "application/fhir+json"}, timeout=30
        ).raise_for_status()
        yield base


@pytest.fixture(scope="session")
def patients() -> list[DemoPatient]:
    return demo_patients()


@pytest.fixture(scope="session")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("service") / "feedback.sqlite3"
    settings = Settings(
        auth="none",
        database_url=f"sqlite:///{db}",
        deadline_seconds=DEADLINE,
        fhir_connect_timeout=1.0,
        fhir_read_timeout=1.5,
    )
    with wsgi_server(create_app(settings)) as url:
        yield url


@pytest.fixture
def faulty_fhir(fhir_base: str) -> Iterator[tuple[FaultyFhir, str]]:
    proxy = FaultyFhir(fhir_base)
    with wsgi_server(proxy) as url:
        yield proxy, f"{url}/fhir"


def post_hook(service_url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{service_url}/cds-services/relapsed-all-risk", json=body, timeout=(3.05, 30)
    )
