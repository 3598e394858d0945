"""The FHIR client's bounds: answer size (mocked HTTP, responses)."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
import responses
from urllib3.connection import HTTPConnection

from cds_hooks import fhir
from cds_hooks.errors import FhirInvalidResponse
from cds_hooks.fhir import FhirClient

BASE = "https://fhir.example.org/r4"


@responses.activate
def test_an_answer_larger_than_the_cap_is_refused_unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir, "MAX_RESPONSE_BYTES", 1000)
    big = {"resourceType": "Patient", "id": "p", "text": {"div": "x" * 2000}}
    responses.get(f"{BASE}/Patient/p", body=json.dumps(big), content_type=fhir.FHIR_JSON)
    client = FhirClient(BASE, requests.Session())
    with pytest.raises(FhirInvalidResponse, match="more than 1000 bytes"):
        client.read("Patient/p")
    found, failures = client.fetch_all({"patient": "Patient/p"}, time.monotonic() + 5)
    assert found == {}
    assert "more than 1000 bytes" in failures["patient"].message
    assert failures["patient"].code == "exception"


def test_cut_wakes_a_read_blocked_on_a_tracked_connection() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        connection = HTTPConnection("127.0.0.1")
        connection.sock = ours
        cutter = fhir._Cutter()
        cutter.adapter._track(connection)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(ours.recv(10)))
        reader.start()
        cutter.cut()
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert got == [b""]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # Each was a TypeError or RecursionError: a 500 wherever the answer was read directly.
        ('{"resourceType": "Bundle", "entry": 5}', "malformed Bundle"),
        ('{"resourceType": "Bundle", "link": [{"url": 3}]}', "malformed Bundle"),
        ('{"resourceType": "OperationOutcome", "issue": 5}', "malformed OperationOutcome"),
        ('{"resourceType": "Bundle", "x": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ],
)
@responses.activate
def test_an_answer_of_the_wrong_shape_is_an_invalid_response(body: str, message: str) -> None:
    responses.get(f"{BASE}/Condition", body=body, content_type=fhir.FHIR_JSON)
    with pytest.raises(FhirInvalidResponse, match=message):
        FhirClient(BASE, requests.Session()).search("Condition?patient=p1")
