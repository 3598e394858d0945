"""Per-hook context rules (CDS Hooks 2.0 hook definitions): what each hook's `context` holds.

`HookRequest.from_json` checks what every hook shares (patientId, userId, encounterId); the rules
here check what a hook adds. A hook without rules here gets only the shared checks; a new hook
registers its own with `register`. Every problem is a BadRequest naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cds_hooks.errors import BadRequest
from cds_hooks.models import is_fhir_id, shape_problem

ContextRule = Callable[[Mapping[str, Any]], None]

# order-sign / order-select 1.0: the request resources a draftOrders Bundle may hold.
ORDER_TYPES = frozenset(
    {
        "DeviceRequest",
        "MedicationRequest",
        "NutritionOrder",
        "ServiceRequest",
        "VisionPrescription",
    }
)


def draft_orders(context: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The draft order resources of context.draftOrders; BadRequest naming what is wrong.

    Each must be one of ORDER_TYPES with status `draft` and a FHIR id: suggestions and
    selections refer to a draft order by its id.
    """
    field = "context.draftOrders"
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest(field, "is required and must be a FHIR Bundle")
    problem = shape_problem(bundle)
    if problem is not None:
        where, message = problem
        raise BadRequest(field + where, message)
    orders: list[Mapping[str, Any]] = []
    for i, entry in enumerate(bundle.get("entry") or []):
        where = f"{field}.entry[{i}].resource"
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            raise BadRequest(where, "is required and must be a FHIR resource")
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in ORDER_TYPES:  # a list would not hash
            raise BadRequest(
                where + ".resourceType", f"must be an order: one of {sorted(ORDER_TYPES)}"
            )
        if resource.get("status") != "draft":
            raise BadRequest(where + ".status", "must be 'draft'")
        if not is_fhir_id(resource.get("id")):
            raise BadRequest(where + ".id", "is required and must be a FHIR id")
        orders.append(resource)
    return orders


def _order_sign(context: Mapping[str, Any]) -> None:
    draft_orders(context)


def _order_select(context: Mapping[str, Any]) -> None:
    orders = draft_orders(context)
    known = {f"{o['resourceType']}/{o['id']}" for o in orders}
    selections = context.get("selections")
    if not isinstance(selections, list) or not selections:
        raise BadRequest("context.selections", "is required and must be a non-empty list")
    for i, selection in enumerate(selections):
        if not isinstance(selection, str) or selection not in known:
            raise BadRequest(
                f"context.selections[{i}]", "must name a draft order as ResourceType/id"
            )


def _patient_view(context: Mapping[str, Any]) -> None:
    """patient-view adds nothing to the shared patientId, userId and encounterId."""


_RULES: dict[str, ContextRule] = {
    "patient-view": _patient_view,
    "order-sign": _order_sign,
    "order-select": _order_select,
}


def register(hook: str, rule: ContextRule) -> None:
    """Add the context rule of a hook not defined here (a rule already defined stays)."""
    _RULES.setdefault(hook, rule)


def check_context(hook: str, context: Mapping[str, Any]) -> None:
    """Raise BadRequest naming the field when `context` breaks the rules of `hook`."""
    rule = _RULES.get(hook)
    if rule is not None:
        rule(context)


def order_action_problems(response: object, context: Mapping[str, Any]) -> list[str]:
    """What breaks the order-sign/order-select rules for suggestion actions, beyond
    `check_cards_response`: an `update` carries a draft order of this call (same type and id),
    a `delete` names one as `ResourceType/id`."""
    drafts = {f"{o['resourceType']}/{o['id']}" for o in draft_orders(context)}
    problems: list[str] = []
    cards = response.get("cards") if isinstance(response, dict) else None
    for i, card in enumerate(cards if isinstance(cards, list) else []):
        suggestions = card.get("suggestions") if isinstance(card, dict) else None
        for j, suggestion in enumerate(suggestions if isinstance(suggestions, list) else []):
            actions = suggestion.get("actions") if isinstance(suggestion, dict) else None
            for k, action in enumerate(actions if isinstance(actions, list) else []):
                path = f"cards[{i}].suggestions[{j}].actions[{k}]"
                kind = action.get("type") if isinstance(action, dict) else None
                if kind == "update":
                    resource = action.get("resource")
                    target = (
                        f"{resource.get('resourceType')}/{resource.get('id')}"
                        if isinstance(resource, dict)
                        else None
                    )
                    if target not in drafts:
                        problems.append(f"{path}.resource: must be a draft order of this call")
                elif kind == "delete" and action.get("resourceId") not in drafts:
                    problems.append(f"{path}.resourceId: must name a draft order of this call")
    return problems
