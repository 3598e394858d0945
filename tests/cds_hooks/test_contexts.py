"""Per-hook context rules: a bad draftOrders or selections is a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.contexts import check_context, draft_orders
from cds_hooks.errors import BadRequest

DRAFT = {"resourceType": "MedicationRequest", "id": "mr1", "status": "draft"}


def _context(orders: Any, **more: Any) -> dict[str, Any]:
    return {"patientId": "p1", "userId": "Practitioner/u1", "draftOrders": orders, **more}


def _bundle(*resources: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _field(hook: str, context: dict[str, Any]) -> str:
    with pytest.raises(BadRequest) as caught:
        check_context(hook, context)
    return caught.value.field


def test_order_sign_takes_a_bundle_of_drafts() -> None:
    check_context("order-sign", _context(_bundle(DRAFT, {**DRAFT, "id": "mr2"})))
    assert [o["id"] for o in draft_orders(_context(_bundle(DRAFT)))] == ["mr1"]


@pytest.mark.parametrize(
    ("orders", "field"),
    [
        (None, "context.draftOrders"),
        ([DRAFT], "context.draftOrders"),
        ({"resourceType": "Parameters"}, "context.draftOrders"),
        ({"resourceType": "Bundle", "entry": {}}, "context.draftOrders.entry"),
        ({"resourceType": "Bundle", "entry": ["x"]}, "context.draftOrders.entry[0]"),
        ({"resourceType": "Bundle", "entry": [{}]}, "context.draftOrders.entry[0].resource"),
        (
            _bundle({"resourceType": "Observation", "id": "o1", "status": "draft"}),
            "context.draftOrders.entry[0].resource.resourceType",
        ),
        (
            _bundle({**DRAFT, "resourceType": ["MedicationRequest"]}),
            "context.draftOrders.entry[0].resource.resourceType",
        ),
        (_bundle({**DRAFT, "status": "active"}), "context.draftOrders.entry[0].resource.status"),
        (_bundle(DRAFT, {**DRAFT, "id": ".."}), "context.draftOrders.entry[1].resource.id"),
        (
            _bundle({k: v for k, v in DRAFT.items() if k != "id"}),
            "context.draftOrders.entry[0].resource.id",
        ),
    ],
)
def test_a_bad_draft_orders_is_named(orders: Any, field: str) -> None:
    assert _field("order-sign", _context(orders)) == field
    assert _field("order-select", _context(orders, selections=["MedicationRequest/mr1"])) == field


@pytest.mark.parametrize(
    ("selections", "field"),
    [
        (None, "context.selections"),
        ([], "context.selections"),
        (["MedicationRequest/other"], "context.selections[0]"),
        (["MedicationRequest/mr1", 3], "context.selections[1]"),
    ],
)
def test_order_select_names_its_selections(selections: Any, field: str) -> None:
    assert _field("order-select", _context(_bundle(DRAFT), selections=selections)) == field


def test_order_select_with_a_selected_draft_passes() -> None:
    check_context("order-select", _context(_bundle(DRAFT), selections=["MedicationRequest/mr1"]))


def test_patient_view_and_unknown_hooks_add_no_rule() -> None:
    check_context("patient-view", {"patientId": "p1", "userId": "Practitioner/u1"})
    check_context("no-such-hook", {})
