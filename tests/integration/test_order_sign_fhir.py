"""The order-sign service over real HTTP against a real FHIR server (sekmet-fhir), with and
without prefetch: the demo patient in reinduction (day-14 counts low, a 12 mg/m² draft)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from cds_hooks.contexts import order_action_problems
from cds_hooks.models import check_cards_response
from service.demo.catalog import DemoPatient
from service.hooks import idarubicin_order_sign
from service.order_cards import FINDINGS_EXTENSION

pytestmark = pytest.mark.integration
HOOK = idarubicin_order_sign.HOOK


def _demo(patients: list[DemoPatient]) -> DemoPatient:
    return next(p for p in patients if p.draft_orders is not None)


def _fetch(fhir_base: str, query: str) -> dict[str, Any]:
    url: str | None = f"{fhir_base}/{query}"
    entries: list[dict[str, Any]] = []
    while url:
        page = requests.get(url, timeout=10).json()
        if page["resourceType"] != "Bundle":
            return dict(page)
        entries += page.get("entry", [])
        url = next((x["url"] for x in page.get("link", []) if x["relation"] == "next"), None)
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def _call(service_url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{service_url}{HOOK.path}", json=body, timeout=(3.05, 30))
    assert answer.status_code == 200, answer.text
    response: dict[str, Any] = answer.json()
    assert check_cards_response(response) == []
    assert order_action_problems(response, body["context"]) == []
    return response


def _body(demo: DemoPatient, **extra: Any) -> dict[str, Any]:
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "patientId": demo.patient_id,
            "userId": "Practitioner/1",
            "draftOrders": demo.draft_orders,
        },
        **extra,
    }


def _findings(response: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (c["extension"][FINDINGS_EXTENSION]["rule"], c["extension"][FINDINGS_EXTENSION]["action"])
        for c in response["cards"]
    ]


EXPECTED = [("ORD-IDA-DOSE", "update"), ("ORD-IDA-COUNTS", "delete")]


def test_fetched_from_the_fhir_server(
    fhir_base: str, service_url: str, patients: list[DemoPatient]
) -> None:
    demo = _demo(patients)
    response = _call(service_url, _body(demo, fhirServer=fhir_base))
    assert _findings(response) == EXPECTED
    counts = response["cards"][1]["extension"][FINDINGS_EXTENSION]["values"]
    assert {
        "label": "ANC",
        "value": "310 /µL",
        "source": f"Observation/{demo.patient_id}-obs-6",
        "date": "2026-02-15",
    } in counts


def test_with_prefetch_from_the_discovery_templates(
    fhir_base: str, service_url: str, patients: list[DemoPatient]
) -> None:
    demo = _demo(patients)
    discovery = requests.get(f"{service_url}/cds-services", timeout=10).json()
    (service,) = [s for s in discovery["services"] if s["id"] == HOOK.id]
    prefetch = {
        key: _fetch(fhir_base, template.replace("{{context.patientId}}", demo.patient_id))
        for key, template in service["prefetch"].items()
    }
    # Everything sent, no fhirServer: nothing can be fetched, so the answer rests on prefetch.
    response = _call(service_url, _body(demo, prefetch=prefetch))
    assert _findings(response) == EXPECTED
    (action,) = response["cards"][0]["suggestions"][0]["actions"]
    quantity = action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert quantity["value"] == 10


def test_a_second_relapse_gets_no_card(
    fhir_base: str, service_url: str, patients: list[DemoPatient]
) -> None:
    # §9: the checks are for reinduction of a first relapse.
    demo, other = _demo(patients), next(p for p in patients if p.key == "second-relapse")
    drafts = _retarget(demo.draft_orders or {}, other.patient_id)
    body = _body(demo, fhirServer=fhir_base)
    body["context"].update(patientId=other.patient_id, draftOrders=drafts)
    assert _call(service_url, body) == {"cards": []}


def _retarget(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    entries = [
        {"resource": {**e["resource"], "subject": {"reference": f"Patient/{patient_id}"}}}
        for e in bundle["entry"]
    ]
    return {**bundle, "entry": entries}
