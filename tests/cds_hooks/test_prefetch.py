"""Prefetch templates and resolution: sent, null, OperationOutcome, paged Bundles, absent keys."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
import responses

from cds_hooks.errors import (
    DeadlinePassed,
    FhirAuthError,
    FhirError,
    FhirNotFound,
    FhirOperationOutcome,
    FhirTimeout,
    FhirUnavailable,
    PrefetchFailure,
    PrefetchUnavailable,
    http_status,
)
from cds_hooks.fhir import FhirClient
from cds_hooks.models import HookRequest
from cds_hooks.prefetch import Prefetched, TemplateError, render_template, resolve
from tests.cds_hooks.conftest import PATIENT, hook_body
from tests.cds_hooks.test_fhir import BASE, bundle, obs

CONTEXT = {"patientId": "p 1&x", "userId": "Practitioner/u1", "encounterId": "e1"}
TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "obs": "Observation?patient={{context.patientId}}",
}


def request(prefetch: dict[str, Any] | None) -> HookRequest:
    return HookRequest.from_json(hook_body(prefetch=prefetch))


def later() -> float:
    return time.monotonic() + 5


def test_render_url_encodes_context_values() -> None:
    rendered = render_template("Observation?patient={{context.patientId}}&x=1", CONTEXT)
    assert rendered == "Observation?patient=p%201%26x&x=1"


def test_render_user_tokens() -> None:
    assert render_template("Practitioner/{{userPractitionerId}}", CONTEXT) == "Practitioner/u1"
    with pytest.raises(TemplateError, match="userPatientId"):
        render_template("Patient/{{userPatientId}}", CONTEXT)


def test_render_refuses_missing_context() -> None:
    with pytest.raises(TemplateError, match=r"context\.appointmentId"):
        render_template("Appointment/{{context.appointmentId}}", CONTEXT)


def test_sent_resource_bundle_and_null_are_used_as_is() -> None:
    prefetched = resolve(
        request({"patient": PATIENT, "obs": bundle(obs(1), obs(2)), "cond": None}),
        {**TEMPLATES, "cond": "Condition?patient={{context.patientId}}"},
        None,
        later(),
    )
    assert prefetched.resources == {"patient": [PATIENT], "obs": [obs(1), obs(2)], "cond": []}
    assert prefetched.failures == {}


def test_operation_outcome_is_a_failure_not_no_data() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    wrapped = {"resourceType": "Bundle", "entry": [{"resource": outcome}]}
    prefetched = resolve(request({"patient": outcome, "obs": wrapped}), TEMPLATES, None, later())
    assert prefetched.resources == {}
    assert set(prefetched.failures) == {"patient", "obs"}


@pytest.mark.parametrize("severity", ["warning", "information"])
def test_s10_operation_outcome_with_only_warnings_is_no_data_not_a_failure(severity: str) -> None:
    """risk-schemes.md §10: only warning/information issues → no data, not a failure."""
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "x"}]}
    wrapped = {"resourceType": "Bundle", "entry": [{"resource": outcome}]}
    prefetched = resolve(request({"patient": PATIENT, "obs": wrapped}), TEMPLATES, None, later())
    assert prefetched.resources == {"patient": [PATIENT], "obs": []}
    assert prefetched.failures == {}


def test_absent_keys_without_fhir_server_fail_as_not_provided() -> None:
    prefetched = resolve(request({"patient": PATIENT}), TEMPLATES, None, later())
    assert prefetched.resources == {"patient": [PATIENT]}
    assert "not provided" in prefetched.failures["obs"].message
    body = PrefetchUnavailable(prefetched.failures).body()
    assert body["issue"][0]["code"] == "not-found"
    assert "'obs'" in body["issue"][0]["diagnostics"]


def test_bundle_with_next_link_is_incomplete_without_client() -> None:
    paged = bundle(obs(1), next_url=f"{BASE}/page2")
    prefetched = resolve(request({"patient": PATIENT, "obs": paged}), TEMPLATES, None, later())
    assert "obs" not in prefetched.resources
    assert prefetched.failures["obs"].code == "incomplete"


@responses.activate
def test_bundle_with_next_link_is_completed_with_client() -> None:
    responses.get(f"{BASE}/page2", json=bundle(obs(2)))
    client = FhirClient(BASE, requests.Session())
    paged = bundle(obs(1), next_url=f"{BASE}/page2")
    prefetched = resolve(request({"patient": PATIENT, "obs": paged}), TEMPLATES, client, later())
    assert prefetched.resources["obs"] == [obs(1), obs(2)]


@responses.activate
def test_absent_keys_are_fetched_and_partial_failures_reported() -> None:
    responses.get(f"{BASE}/Patient/p1", json=PATIENT)
    responses.get(f"{BASE}/Observation", body=requests.ReadTimeout("slow"))
    prefetched = resolve(request(None), TEMPLATES, FhirClient(BASE, requests.Session()), later())
    assert prefetched.resources == {"patient": [PATIENT]}
    assert prefetched.failures["obs"].code == "timeout"


@responses.activate
def test_the_412_does_not_tell_network_conditions_apart() -> None:
    # Timed out, refused, reset, not FHIR: a caller probing addresses learns only "not read".
    responses.get(f"{BASE}/Patient/p1", body=requests.ReadTimeout("slow"))
    responses.get(f"{BASE}/Observation", body=requests.ConnectionError("refused"))
    prefetched = resolve(request(None), TEMPLATES, FhirClient(BASE, requests.Session()), later())
    issues = PrefetchUnavailable(prefetched.failures).body()["issue"]
    assert [(i["code"], i["diagnostics"]) for i in issues] == [
        ("exception", "prefetch 'obs' unavailable: could not be read from the FHIR server"),
        ("exception", "prefetch 'patient' unavailable: could not be read from the FHIR server"),
    ]


@responses.activate
def test_absent_keys_are_fetched_in_parallel() -> None:
    barrier = threading.Barrier(2, timeout=2)

    def meet(body: dict[str, Any]) -> Any:
        def callback(_request: Any) -> tuple[int, dict[str, str], str]:
            barrier.wait()  # breaks (and fails the key) unless both calls run at once
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(body)

        return callback

    responses.add_callback(responses.GET, f"{BASE}/Patient/p1", callback=meet(PATIENT))
    responses.add_callback(responses.GET, f"{BASE}/Observation", callback=meet(bundle(obs(1))))
    prefetched = resolve(request(None), TEMPLATES, FhirClient(BASE, requests.Session()), later())
    assert prefetched.failures == {}
    assert prefetched.resources["obs"] == [obs(1)]


def test_fetch_is_bounded_by_the_deadline() -> None:
    release = threading.Event()

    def slow(_request: Any) -> tuple[int, dict[str, str], str]:
        release.wait(5)
        return 200, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, f"{BASE}/Patient/p1", callback=slow)
        mock.add_callback(responses.GET, f"{BASE}/Observation", callback=slow)
        prefetched = resolve(
            request(None), TEMPLATES, FhirClient(BASE, requests.Session()), time.monotonic() + 0.2
        )
        release.set()
    assert set(prefetched.failures) == {"patient", "obs"}
    assert prefetched.failures["patient"].code == "timeout"
    assert "deadline" in prefetched.failures["patient"].message


def test_the_ehrs_operation_outcome_code_is_relayed_in_the_412() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "forbidden"}],
    }
    prefetched = resolve(request({"patient": outcome}), TEMPLATES, None, later())
    issues = PrefetchUnavailable(prefetched.failures).body()["issue"]
    assert {i["code"] for i in issues if "'patient'" in i["diagnostics"]} == {"forbidden"}


def test_an_operation_outcome_code_outside_issue_type_is_not_carried() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "<b>"}]}
    prefetched = resolve(request({"patient": outcome}), TEMPLATES, None, later())
    assert prefetched.failures["patient"] == PrefetchFailure(
        "exception", "the EHR sent an OperationOutcome (exception)"
    )


@responses.activate
def test_the_failure_code_comes_from_the_error_type_not_its_words() -> None:
    # A Content-Type chosen to hold the keywords the message used to be searched for.
    responses.get(
        f"{BASE}/Patient/p1", body="<html/>", content_type="text/timeout-401-unauthorized"
    )
    responses.get(f"{BASE}/Observation", status=404)
    prefetched = resolve(request(None), TEMPLATES, FhirClient(BASE, requests.Session()), later())
    assert prefetched.failures["patient"].code == "exception"
    assert prefetched.failures["obs"].code == "not-found"
    issues = PrefetchUnavailable(prefetched.failures).body()["issue"]
    assert [i["code"] for i in issues] == ["not-found", "exception"]  # by key: obs, patient


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (FhirAuthError("x"), 401, "security"),
        (FhirNotFound("x"), 404, "not-found"),
        (FhirTimeout("x"), 504, "timeout"),
        (FhirUnavailable("x"), 502, "exception"),
        (FhirOperationOutcome("processing"), 502, "processing"),
    ],
)
def test_one_mapping_gives_status_and_issue_code(error: FhirError, status: int, code: str) -> None:
    assert http_status(error) == status
    assert error.failure().code == code


def test_a_failure_code_must_be_an_issue_type() -> None:
    with pytest.raises(ValueError, match="IssueType"):
        PrefetchFailure("timed out", "x")


def test_work_after_the_prefetch_stops_at_the_deadline() -> None:
    Prefetched().check_deadline()  # no deadline: never stops
    Prefetched().until(time.monotonic() + 60).check_deadline()
    with pytest.raises(DeadlinePassed):
        Prefetched().until(time.monotonic() - 0.001).check_deadline()
