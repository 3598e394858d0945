"""The order-sign service over the Flask test client: prefetch in, valid order-sign cards out."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_hooks.contexts import order_action_problems
from cds_hooks.models import check_cards_response
from service.app import create_app
from service.settings import Settings
from tests.service.order_builders import (
    DAY0,
    anc,
    bsa,
    draft,
    good_counts,
    height,
    platelets,
    record,
    weight,
)

PATH = "/cds-services/reinduction-idarubicin-check"


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    settings = Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}")
    return create_app(settings, today=lambda: DAY0).test_client()


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def body(orders: list[dict[str, Any]], resources: list[dict[str, Any]]) -> dict[str, Any]:
    by_key = {
        "patient": "Patient",
        "conditions": "Condition",
        "careplans": "CarePlan",
        "procedures": "Procedure",
        "observations": "Observation",
        "medications": "MedicationRequest",
        "administrations": "MedicationAdministration",
    }
    prefetch: dict[str, Any] = {
        key: _bundle([r for r in resources if r["resourceType"] == kind])
        for key, kind in by_key.items()
    }
    prefetch["patient"] = next(r for r in resources if r["resourceType"] == "Patient")
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p", "userId": "Practitioner/u1", "draftOrders": _bundle(orders)},
        "prefetch": prefetch,
    }


def test_a_12_mg_per_m2_order_into_low_counts_gets_two_warnings(client: FlaskClient) -> None:
    request = body([draft(12)], [*record(), anc(0.3, "10*3/uL"), platelets(20, "10*9/L")])
    answer = client.post(PATH, json=request)
    assert answer.status_code == 200, answer.get_json()
    response = answer.get_json()
    assert check_cards_response(response) == []
    assert order_action_problems(response, request["context"]) == []
    actions = [c["suggestions"][0]["actions"][0] for c in response["cards"]]
    assert [(a["type"], a.get("resourceId")) for a in actions] == [
        ("update", None),
        ("delete", "MedicationRequest/draft-ida"),
    ]
    assert actions[0]["resource"]["id"] == "draft-ida"


def test_nothing_applies_no_card(client: FlaskClient) -> None:
    request = body([draft(10)], [*record(), anc(1200), platelets(120_000), bsa(1.0)])
    answer = client.post(PATH, json=request)
    assert answer.get_json() == {"cards": []}


def test_a_bad_draft_orders_is_a_400_naming_the_field(client: FlaskClient) -> None:
    request = body([{**draft(), "status": "active"}], record())
    answer = client.post(PATH, json=request)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "context.draftOrders.entry[0].resource.status"


def test_a_failed_key_says_the_checks_cannot_be_made(client: FlaskClient) -> None:
    request = body([draft(12)], record())
    request["prefetch"]["observations"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "slow"}],
    }
    response = client.post(PATH, json=request).get_json()
    (card,) = response["cards"]
    assert card["indicator"] == "info"
    assert "suggestions" not in card
    assert "Observations \\(blood counts" in card["detail"]


def test_feedback_is_kept_per_service(client: FlaskClient) -> None:
    request = body([draft(12)], [*record(), anc(1200), platelets(120_000)])
    card = client.post(PATH, json=request).get_json()["cards"][0]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-02-15T10:00:00Z",
            }
        ]
    }
    other = client.post("/cds-services/relapsed-all-risk/feedback", json=feedback)
    assert other.status_code == 400  # not a card that service issued
    assert client.post(f"{PATH}/feedback", json=feedback).status_code == 200


def test_stricter_check_catches_an_action_on_another_resource() -> None:
    context = {"draftOrders": _bundle([draft()])}
    bad = {
        "cards": [
            {
                "suggestions": [
                    {"actions": [{"type": "delete", "resourceId": "MedicationRequest/other"}]},
                    {"actions": [{"type": "update", "resource": {**draft(), "id": "x"}}]},
                ]
            }
        ]
    }
    assert order_action_problems(bad, context) == [
        "cards[0].suggestions[0].actions[0].resourceId: must name a draft order of this call",
        "cards[0].suggestions[1].actions[0].resource: must be a draft order of this call",
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"dosageInstruction": "x"},
        {
            "dosageInstruction": [
                {"doseAndRate": [{"doseQuantity": {"value": "12", "unit": "mg/m2"}}]}
            ]
        },
        {"dosageInstruction": [{"timing": {"event": "2026-02-15"}, "doseAndRate": "x"}]},
        {"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 1e400}}]}]},
        {"medicationCodeableConcept": None, "medicationReference": "Medication/x"},
        {
            "medicationCodeableConcept": None,
            "medicationReference": {"reference": "#m"},
            "contained": "x",
        },
        {"subject": "Patient/p"},
        {"authoredOn": 20260215},
    ],
)
def test_odd_drafts_never_give_a_server_error(client: FlaskClient, change: dict[str, Any]) -> None:
    order = {k: v for k, v in {**draft(12), **change}.items() if v is not None}
    answer = client.post(PATH, json=body([order], [*record(), anc(1200), platelets(120_000)]))
    assert answer.status_code == 200, answer.get_json()
    assert check_cards_response(answer.get_json()) == []


def test_a_draft_referring_to_a_contained_idarubicin_is_checked(client: FlaskClient) -> None:
    order = draft(12)
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "#ida"}
    order["contained"] = [
        {
            "resourceType": "Medication",
            "id": "ida",
            "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "L01DB06"}]},
        }
    ]
    response = client.post(PATH, json=body([order], [*record(), anc(1200), platelets(120_000)]))
    assert [c["indicator"] for c in response.get_json()["cards"]] == ["warning"]


@pytest.mark.parametrize("dose", [1e308, 1e25])
def test_a_dose_too_large_to_compute_with_is_answered(client: FlaskClient, dose: float) -> None:
    # Was an InvalidOperation (500) in the decimal arithmetic of the dose check.
    request = body([draft(dose, "mg")], [*record(), *good_counts(), height(140), weight(35)])
    answer = client.post(PATH, json=request)
    assert answer.status_code == 200, answer.get_json()
    assert check_cards_response(answer.get_json()) == []


def test_statuses_of_the_wrong_json_type_are_answered(client: FlaskClient) -> None:
    # A list does not hash: each was a TypeError (500).
    resources = [*record(), anc(1200), platelets(120_000), bsa(1.0)]
    for resource in resources:
        if resource["resourceType"] in ("CarePlan", "Observation"):
            resource["status"] = [resource.get("status")]
    answer = client.post(PATH, json=body([draft(12)], resources))
    assert answer.status_code == 200, answer.get_json()
    assert check_cards_response(answer.get_json()) == []
