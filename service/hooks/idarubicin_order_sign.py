"""`reinduction-idarubicin-check` (order-sign): the CALL-0603 idarubicin checks (§9 ORD-IDA-*)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cds_hooks.contexts import draft_orders
from cds_hooks.discovery import Handler
from cds_hooks.models import Card, HookRequest
from cds_hooks.prefetch import Prefetched
from mappings.codesets import ORDER_OBSERVATION_SETS, CodeSets
from mappings.fhirjson import ref
from mappings.orders import read_drafts, read_record
from service.domain.orders import Finding, check_order, unreadable_order
from service.engine import PATIENT_ID, drug_templates, patient_search
from service.hooks.base import HookEnv, HookModule
from service.order_cards import SERVICE_ID, order_cards

# Without the patient and the conditions the relapse (and so whether the checks apply) is unknown.
REQUIRED_KEYS = frozenset({"patient", "conditions"})
KEY_LABELS = {
    "careplans": "CarePlans (reinduction day 0)",
    "procedures": "Procedures (reinduction start)",
    "observations": "Observations (blood counts, body size, marrow blasts)",
    "medications": "MedicationRequests (reinduction drugs, prior idarubicin)",
    "administrations": "MedicationAdministrations (reinduction drugs, prior idarubicin)",
}


def prefetch_templates(codes: CodeSets) -> dict[str, str]:
    """Valid R4 searches, the Observation and Procedure codes from the configured code sets."""
    return {
        "patient": f"Patient/{PATIENT_ID}",
        "conditions": patient_search("Condition"),
        "careplans": patient_search("CarePlan"),
        "procedures": patient_search("Procedure", codes.observation_codes(("reinduction_start",))),
        "observations": patient_search(
            "Observation", codes.observation_codes(ORDER_OBSERVATION_SETS)
        ),
        **drug_templates(),
    }


def check_findings(
    drafts: Sequence[Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    codes: CodeSets,
    *,
    patient_id: str,
    request_date: date,
    failures: Sequence[str] = (),
) -> list[tuple[Mapping[str, Any], tuple[Finding, ...]]]:
    """(draft, findings) for each idarubicin draft among `drafts`; the hook and the CLI."""
    found = read_drafts(drafts, resources, codes, patient_id=patient_id, request_date=request_date)
    if not found:
        return []
    record = read_record(
        resources,
        codes,
        patient_id=patient_id,
        draft_refs=frozenset(ref(d) for d in drafts),
        failures=failures,
    )
    return [
        (
            draft.resource,
            check_order(draft.order, record)
            if draft.order is not None
            else unreadable_order(record, draft.problem or "the draft order"),
        )
        for draft in found
    ]


def check_drafts(
    drafts: Sequence[Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    env: HookEnv,
    *,
    patient_id: str,
    failures: Sequence[str] = (),
) -> list[Card]:
    """The cards for the idarubicin drafts among `drafts` (none: no card)."""
    checked = check_findings(
        drafts,
        resources,
        env.codes,
        patient_id=patient_id,
        request_date=env.today(),
        failures=failures,
    )
    return [card for draft, findings in checked for card in order_cards(findings, draft)]


def _handler(env: HookEnv) -> Handler:
    def handle(hook: HookRequest, prefetched: Prefetched) -> Sequence[Card]:
        resources = [r for found in prefetched.resources.values() for r in found]
        return check_drafts(
            draft_orders(hook.context),
            resources,
            env,
            patient_id=hook.patient_id,
            failures=[KEY_LABELS.get(key, key) for key in prefetched.failures],
        )

    return handle


HOOK = HookModule(
    id=SERVICE_ID,
    hook="order-sign",
    title="Relapsed childhood ALL: CALL-0603 idarubicin checks at signing",
    description=(
        "Checks a draft idarubicin order in reinduction of a first relapse against CALL-0603 "
        "(10 mg/m² on days 0, 7, 14 and 21; withheld on day 14 or 21 when ANC < 500/µL or "
        "platelets < 50,000/µL unless the day-14 marrow is M3), with rule ids (ORD-IDA-*), the "
        "values and their resources. Decision support, not a decision."
    ),
    prefetch=prefetch_templates,
    handler=_handler,
    required_keys=REQUIRED_KEYS,
    usage_requirements=(
        "Grant read access to Patient, Condition, CarePlan, Procedure, Observation, "
        "MedicationRequest and MedicationAdministration; send draft MedicationRequests with an "
        "id, RxNorm or ATC codes and doseQuantity in mg or mg/m2."
    ),
)
