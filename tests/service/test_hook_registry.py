"""The hook registry: each service one module, listed in discovery and in openapi.json."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_hooks.models import check_cards_response
from service.app import OPENAPI, create_app
from service.hooks import REGISTERED
from service.settings import Settings
from tests.service import toy_hook

PATIENT = {"resourceType": "Patient", "id": "p1"}


def _client(tmp_path: Path, hooks: Any = REGISTERED) -> FlaskClient:
    settings = Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}")
    return create_app(settings, today=lambda: date(2026, 3, 1), hooks=hooks).test_client()


def _body(hook: str, **context: Any) -> dict[str, Any]:
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p1", "userId": "Practitioner/u1", **context},
        "prefetch": {"patient": PATIENT},
    }


def test_discovery_lists_every_registered_service(tmp_path: Path) -> None:
    services = _client(tmp_path).get("/cds-services").get_json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [(h.id, h.hook) for h in REGISTERED]
    for service, hook in zip(services, REGISTERED, strict=True):
        assert service["title"] == hook.title
        assert set(service["prefetch"]) >= hook.required_keys


def test_both_hooks_read_the_reinduction_drugs_with_the_same_two_searches(tmp_path: Path) -> None:
    # fhir-contract.md, "Reinduction": day 0 from the first reinduction drug given, else ordered;
    # one R4 search cannot return MedicationAdministration and MedicationRequest together.
    services = _client(tmp_path).get("/cds-services").get_json()["services"]
    drugs = {
        "medications": "MedicationRequest?patient={{context.patientId}}",
        "administrations": "MedicationAdministration?patient={{context.patientId}}",
    }
    by_hook = {s["hook"]: s["prefetch"] for s in services}
    assert list(by_hook["patient-view"]) == [
        "patient",
        "conditions",
        "observations",
        "procedures",
        "careplans",
        "medications",
        "administrations",
    ]
    for prefetch in by_hook.values():
        assert {k: prefetch[k] for k in drugs} == drugs
    usage = next(s for s in services if s["hook"] == "patient-view")["usageRequirements"]
    assert "MedicationRequest and MedicationAdministration" in usage


def test_openapi_names_every_prefetch_key(tmp_path: Path) -> None:
    spec = json.loads(OPENAPI)
    named = spec["components"]["schemas"]["HookRequest"]["properties"]["prefetch"]["properties"]
    services = _client(tmp_path).get("/cds-services").get_json()["services"]
    assert {k for s in services for k in s.get("prefetch", {})} <= set(named)


def test_openapi_lists_every_registered_service() -> None:
    spec = json.loads(OPENAPI)
    examples = spec["components"]["parameters"]["ServiceId"]["examples"]
    assert sorted(e["value"] for e in examples.values()) == sorted(h.id for h in REGISTERED)
    hooks = spec["components"]["schemas"]["HookRequest"]["properties"]["hook"]["examples"]
    assert sorted(hooks) == sorted({h.hook for h in REGISTERED})


def test_a_new_hook_is_one_module(tmp_path: Path) -> None:
    client = _client(tmp_path, hooks=(*REGISTERED, toy_hook.HOOK))
    services = client.get("/cds-services").get_json()["services"]
    assert services[-1]["id"] == "toy-discharge"
    assert services[-1]["prefetch"] == {"patient": "Patient/{{context.patientId}}"}
    answer = client.post("/cds-services/toy-discharge", json=_body("encounter-discharge"))
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "context.encounterId"
    answer = client.post(
        "/cds-services/toy-discharge", json=_body("encounter-discharge", encounterId="e1")
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert check_cards_response(body) == []
    assert body["cards"][0]["summary"] == "Discharged on 2026-03-01 (1 patient)"


def test_a_hook_another_service_answers_is_refused(tmp_path: Path) -> None:
    answer = _client(tmp_path).post("/cds-services/relapsed-all-risk", json=_body("order-sign"))
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "hook"


@pytest.mark.parametrize("hook", list(REGISTERED), ids=lambda h: h.id)
def test_every_service_takes_feedback_under_its_own_id(tmp_path: Path, hook: Any) -> None:
    client = _client(tmp_path)
    card = str(uuid.uuid4())
    feedback = {
        "feedback": [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}
        ]
    }
    # A card this service never issued is refused: feedback is checked per service id.
    answer = client.post(f"/cds-services/{hook.id}/feedback", json=feedback)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "feedback[0].card"
