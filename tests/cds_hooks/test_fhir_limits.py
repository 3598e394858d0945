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
