"""The FHIR client against mocked HTTP (responses)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from cds_hooks.errors import (
    FhirAuthError,
    FhirError,
    FhirInvalidResponse,
    FhirNotFound,
    FhirTimeout,
    FhirUnavailable,
)
from cds_hooks.fhir import FhirClient, encode_query

BASE = "https://fhir.example.org/r4"


def bundle(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def obs(n: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": str(n)}


@pytest.fixture
def client() -> FhirClient:
    return FhirClient(BASE, requests.Session(), access_token="tok-123", timeout=(1.5, 4.0))


@responses.activate
def test_read_sends_exact_bearer_and_accept_headers(client: FhirClient) -> None:
    responses.get(
        f"{BASE}/Patient/p1",
        json={"resourceType": "Patient", "id": "p1"},
        match=[
            matchers.header_matcher(
                {"Authorization": "Bearer tok-123", "Accept": "application/fhir+json"}
            )
        ],
    )
    assert client.read("Patient/p1")["id"] == "p1"


@responses.activate
def test_timeouts_are_passed_on_every_call(client: FhirClient) -> None:
    responses.get(
        f"{BASE}/Patient/p1",
        json={"resourceType": "Patient", "id": "p1"},
        match=[matchers.request_kwargs_matcher({"timeout": (1.5, 4.0)})],
    )
    client.read("Patient/p1")


@responses.activate
def test_no_authorization_header_without_token() -> None:
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    FhirClient(BASE, requests.Session()).read("Patient/p1")
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_search_follows_next_links(client: FhirClient) -> None:
    responses.get(f"{BASE}/Observation", json=bundle(obs(1), next_url=f"{BASE}/page2"))
    responses.get(f"{BASE}/page2", json=bundle(obs(2), next_url=f"{BASE}/page3"))
    responses.get(f"{BASE}/page3", json=bundle(obs(3)))
    found = client.search("Observation?patient=p1")
    assert [r["id"] for r in found] == ["1", "2", "3"]


@responses.activate
def test_paging_loop_is_detected(client: FhirClient) -> None:
    responses.get(f"{BASE}/Observation", json=bundle(obs(1), next_url=f"{BASE}/page2"))
    responses.get(f"{BASE}/page2", json=bundle(obs(2), next_url=f"{BASE}/page2"))
    with pytest.raises(FhirInvalidResponse, match="loop"):
        client.search("Observation?patient=p1")


@responses.activate
def test_too_many_pages_is_refused() -> None:
    client = FhirClient(BASE, requests.Session(), max_pages=3)
    responses.get(f"{BASE}/Observation", json=bundle(obs(0), next_url=f"{BASE}/p1"))
    for n in range(1, 5):
        responses.get(f"{BASE}/p{n}", json=bundle(obs(n), next_url=f"{BASE}/p{n + 1}"))
    with pytest.raises(FhirInvalidResponse, match="pages"):
        client.search("Observation")
    assert len(responses.calls) == 3


@pytest.mark.parametrize(
    ("url", "encoded"),
    [
        (
            "Observation?patient=p1&code=http://loinc.org|26474-7,http://snomed.info/sct|1",
            "Observation?patient=p1&code=http%3A%2F%2Floinc.org%7C26474-7,http%3A%2F%2Fsnomed.info%2Fsct%7C1",
        ),
        (
            "Observation?date=ge2020-01-01T00:00:00%2B02:00",
            "Observation?date=ge2020-01-01T00%3A00%3A00%2B02%3A00",
        ),
        ("Condition?code:text=bone marrow&_count=", "Condition?code:text=bone%20marrow&_count="),
        ("Patient/p1", "Patient/p1"),
    ],
)
def test_query_values_are_percent_encoded_once(url: str, encoded: str) -> None:
    assert encode_query(url) == encoded
    assert encode_query(encoded) == encoded


@responses.activate
def test_searches_go_out_encoded(client: FhirClient) -> None:
    responses.get(f"{BASE}/Observation", json=bundle(obs(1)))
    client.fetch("Observation?patient=p1&code=http://loinc.org|26474-7")
    assert responses.calls[0].request.url == (
        f"{BASE}/Observation?patient=p1&code=http%3A%2F%2Floinc.org%7C26474-7"
    )


@responses.activate
def test_root_relative_next_link_is_resolved_against_the_origin(client: FhirClient) -> None:
    responses.get(f"{BASE}/Observation", json=bundle(obs(1), next_url="/r4/Observation?page=2"))
    responses.get(f"{BASE}/Observation", json=bundle(obs(2)))
    assert [r["id"] for r in client.search("Observation")] == ["1", "2"]
    assert responses.calls[1].request.url == f"{BASE}/Observation?page=2"


@responses.activate
def test_next_link_outside_the_server_base_is_not_followed(client: FhirClient) -> None:
    responses.get(f"{BASE}/Observation", json=bundle(obs(1), next_url="/admin/export"))
    with pytest.raises(FhirInvalidResponse, match="base"):
        client.search("Observation")
    assert len(responses.calls) == 1


@responses.activate
def test_next_link_on_another_origin_is_not_followed(client: FhirClient) -> None:
    responses.get(f"{BASE}/Observation", json=bundle(obs(1), next_url="https://evil.example/x"))
    with pytest.raises(FhirInvalidResponse, match="origin"):
        client.search("Observation")
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, FhirAuthError),
        (403, FhirAuthError),
        (404, FhirNotFound),
        (500, FhirUnavailable),
        (503, FhirUnavailable),
        (400, FhirError),
    ],
)
@responses.activate
def test_http_errors_map_to_fhir_errors(
    client: FhirClient, status: int, error: type[FhirError]
) -> None:
    responses.get(f"{BASE}/Patient/p1", status=status, json={"resourceType": "OperationOutcome"})
    with pytest.raises(error):
        client.read("Patient/p1")


@responses.activate
def test_connection_refused_is_unavailable(client: FhirClient) -> None:
    responses.get(f"{BASE}/Patient/p1", body=requests.ConnectionError("refused"))
    with pytest.raises(FhirUnavailable):
        client.read("Patient/p1")


@responses.activate
def test_read_timeout_is_fhir_timeout(client: FhirClient) -> None:
    responses.get(f"{BASE}/Patient/p1", body=requests.ReadTimeout("slow"))
    with pytest.raises(FhirTimeout):
        client.read("Patient/p1")


@responses.activate
def test_html_is_invalid(client: FhirClient) -> None:
    responses.get(f"{BASE}/Patient/p1", body="<html>login</html>", content_type="text/html")
    with pytest.raises(FhirInvalidResponse, match="text/html"):
        client.read("Patient/p1")


@responses.activate
def test_truncated_json_is_invalid(client: FhirClient) -> None:
    responses.get(
        f"{BASE}/Patient/p1", body='{"resourceType": "Pat', content_type="application/json"
    )
    with pytest.raises(FhirInvalidResponse):
        client.read("Patient/p1")


@responses.activate
def test_wrong_resource_type_is_invalid(client: FhirClient) -> None:
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Observation", "id": "p1"})
    with pytest.raises(FhirInvalidResponse, match="expected Patient"):
        client.read("Patient/p1")


@responses.activate
def test_error_operation_outcome_with_200_is_an_error(client: FhirClient) -> None:
    responses.get(
        f"{BASE}/Observation",
        json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]},
    )
    with pytest.raises(FhirError, match="OperationOutcome"):
        client.search("Observation")


def test_passed_deadline_makes_no_call() -> None:
    client = FhirClient(BASE, requests.Session(), deadline=time.monotonic() - 1)
    with responses.RequestsMock() as mock, pytest.raises(FhirTimeout):
        client.read("Patient/p1")
    assert len(mock.calls) == 0


@responses.activate
def test_remaining_deadline_caps_the_timeouts() -> None:
    client = FhirClient(
        BASE, requests.Session(), timeout=(3.0, 10.0), deadline=time.monotonic() + 2.0
    )
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    client.read("Patient/p1")
    connect, read = responses.calls[0].request.req_kwargs["timeout"]  # type: ignore[attr-defined]
    assert 0 < connect <= 2.0
    assert 0 < read <= 2.0


@responses.activate
def test_fetch_all_returns_results_and_failures(client: FhirClient) -> None:
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    responses.get(f"{BASE}/Observation", json=bundle(obs(1), obs(2)))
    responses.get(f"{BASE}/Condition", status=403)
    results, failures = client.fetch_all(
        {"patient": "Patient/p1", "obs": "Observation?patient=p1", "cond": "Condition?patient=p1"},
        time.monotonic() + 5,
    )
    assert results == {
        "patient": [{"resourceType": "Patient", "id": "p1"}],
        "obs": [obs(1), obs(2)],
    }
    assert set(failures) == {"cond"}
    assert failures["cond"].code == "security"
    assert "403" in failures["cond"].message
    assert "tok-123" not in failures["cond"].message
