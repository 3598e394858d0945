"""The synthetic demo patients shipped with the service, and loading them into a FHIR server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import requests

TIMEOUT = (3.05, 20.0)


@dataclass(frozen=True)
class DemoPatient:
    key: str  # file stem
    patient_id: str
    name: str
    bundle: dict[str, Any]
    # Draft orders to sign (an order-sign `draftOrders` Bundle), from demo/orders/<key>.json.
    draft_orders: dict[str, Any] | None = None


def demo_patients() -> list[DemoPatient]:
    folder = resources.files("service.demo") / "patients"
    orders = resources.files("service.demo") / "orders"
    found = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        bundle = json.loads(item.read_text(encoding="utf-8"))
        patient = next(
            e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        )
        first = (patient.get("name") or [{}])[0]
        name = first.get("text") or " ".join([*first.get("given", []), first.get("family", "")])
        drafts = orders / item.name
        found.append(
            DemoPatient(
                item.name[:-5],
                patient["id"],
                name.strip() or patient["id"],
                bundle,
                json.loads(drafts.read_text(encoding="utf-8")) if drafts.is_file() else None,
            )
        )
    return found


def load_into(fhir_base: str, patient: DemoPatient, session: requests.Session) -> None:
    """PUT each resource under its own id, so loading twice leaves one copy."""
    base = fhir_base.rstrip("/")
    for entry in patient.bundle["entry"]:
        resource = entry["resource"]
        url = f"{base}/{resource['resourceType']}/{resource['id']}"
        response = session.put(
            url,
            json=resource,
            headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
            timeout=TIMEOUT,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"{resource['resourceType']}/{resource['id']}: the FHIR server answered "
                f"{response.status_code}"
            )
