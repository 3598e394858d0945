"""Fuzzing the live service from its own OpenAPI description: no input gives a server error."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import OPENAPI
from service.demo.servers import free_port

pytestmark = pytest.mark.integration

# Nothing listens there: fuzzed fhirServer URLs must never leave the machine.
DEAD_FHIR = f"http://127.0.0.1:{free_port()}/fhir"


# The packaged file; the live server is given per call (test_the_description_is_served ties them).
schema = schemathesis.openapi.from_dict(json.loads(OPENAPI))


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_gives_a_server_error(case: Any, service_url: str) -> None:
    if isinstance(case.body, dict) and "fhirServer" in case.body:
        case.body["fhirServer"] = DEAD_FHIR
    case.call_and_validate(
        base_url=service_url,
        checks=[
            schemathesis.checks.not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_the_description_is_served(service_url: str) -> None:
    response = requests.get(f"{service_url}/openapi.json", timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == OPENAPI
    assert response.json()["openapi"].startswith("3.1")
