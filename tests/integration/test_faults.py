"""The hook against a misbehaving FHIR server: 412 or a card naming what could not be read.

Never a 5xx, always within the deadline. Each fault hits either every FHIR query (the required
Patient and Conditions fail: 412) or only the Observation search (a card says so).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bench.data import searchset, synthetic_record
from cds_hooks.models import check_cards_response
from service.demo.catalog import DemoPatient
from service.demo.servers import free_port
from tests.integration.conftest import DEADLINE, post_hook
from tests.integration.faulty_fhir import Fault, FaultyFhir
from tests.integration.test_hook_fhir import hook

pytestmark = pytest.mark.integration

MARGIN = 1.0
OBSERVATIONS = "/fhir/Observation"
HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
OUTCOME_200 = json.dumps(
    {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "too-costly", "diagnostics": "query too costly"}],
    }
).encode()
TRUNCATED = json.dumps(searchset(synthetic_record(30))).encode()[:1500]

FAULTS: dict[str, Fault] = {
    "hanging": Fault(delay=DEADLINE + 3),
    "500": Fault(status=500),
    "503": Fault(status=503),
    "401": Fault(status=401),
    "403": Fault(status=403),
    "html": Fault(body=HTML, content_type="text/html"),
    "html-as-fhir": Fault(body=HTML),
    "truncated-json": Fault(body=TRUNCATED),
    "operation-outcome": Fault(body=OUTCOME_200),
    "paging-loop": Fault(paging_loop=True),
}


def call(service_url: str, patient_id: str, base: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = post_hook(service_url, hook(patient_id, fhir_server=base))
    return response, time.monotonic() - started


def assert_412(response: requests.Response) -> None:
    assert response.status_code == 412, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def assert_card_names_observations(response: requests.Response) -> None:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert check_cards_response(payload) == []
    risk = payload["cards"][0]
    assert risk["indicator"] == "warning"
    assert "Could not read Observations" in risk["detail"]


@pytest.fixture
def relapsed(patients: list[DemoPatient]) -> DemoPatient:
    return patients[0]


@pytest.mark.parametrize("name", FAULTS)
def test_fault_on_every_query_is_412_within_the_deadline(
    name: str, service_url: str, faulty_fhir: tuple[FaultyFhir, str], relapsed: DemoPatient
) -> None:
    proxy, base = faulty_fhir
    proxy.fault = FAULTS[name]
    response, elapsed = call(service_url, relapsed.patient_id, base)
    assert elapsed < DEADLINE + MARGIN
    assert_412(response)


@pytest.mark.parametrize("name", FAULTS)
def test_fault_on_observations_is_named_on_the_card(
    name: str, service_url: str, faulty_fhir: tuple[FaultyFhir, str], relapsed: DemoPatient
) -> None:
    proxy, base = faulty_fhir
    fault = FAULTS[name]
    proxy.fault = Fault(**{**fault.__dict__, "only": OBSERVATIONS})
    response, elapsed = call(service_url, relapsed.patient_id, base)
    assert elapsed < DEADLINE + MARGIN
    assert_card_names_observations(response)


def test_huge_bundle_is_assessed_within_the_deadline(
    service_url: str, faulty_fhir: tuple[FaultyFhir, str], relapsed: DemoPatient
) -> None:
    proxy, base = faulty_fhir
    huge = synthetic_record(5000, patient=relapsed.patient_id)
    observations = [r for r in huge if r["resourceType"] == "Observation"]
    assert len(observations) >= 4990
    proxy.fault = Fault(body=json.dumps(searchset(observations)).encode(), only=OBSERVATIONS)
    response, elapsed = call(service_url, relapsed.patient_id, base)
    assert elapsed < DEADLINE + MARGIN
    # 503 when the mapping itself runs past the deadline (a slow or busy machine).
    assert response.status_code in (200, 412, 503), response.text
    if response.status_code == 200:
        payload = response.json()
        assert check_cards_response(payload) == []
        assert payload["cards"]


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """Accepts TCP connections and closes them at once, without a byte of HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize("server", ["down", "refusing"])
def test_unreachable_fhir_server_is_412(
    server: str, service_url: str, relapsed: DemoPatient, request: pytest.FixtureRequest
) -> None:
    base: Any = (
        f"http://127.0.0.1:{free_port()}/fhir"
        if server == "down"
        else request.getfixturevalue("refusing_server")
    )
    response, elapsed = call(service_url, relapsed.patient_id, base)
    assert elapsed < DEADLINE + MARGIN
    assert_412(response)


def test_a_closed_port_and_a_silent_server_give_the_same_412(
    service_url: str, relapsed: DemoPatient
) -> None:
    # Else the 412 would tell a caller which addresses answer (with auth off: any loopback one).
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        silent_base = f"http://127.0.0.1:{silent.getsockname()[1]}/fhir"
        hanging = call(service_url, relapsed.patient_id, silent_base)[0]
    closed = call(service_url, relapsed.patient_id, f"http://127.0.0.1:{free_port()}/fhir")[0]
    assert_412(closed)
    assert closed.json() == hanging.json()
