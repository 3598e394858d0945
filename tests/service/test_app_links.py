"""Cards link to the SMART app only where it can be launched (an allowed issuer is set)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from bench.data import prefetch_of
from service.app import create_app
from service.demo.catalog import demo_patients
from service.settings import Settings


def _cards(settings: Settings) -> list[dict[str, Any]]:
    patient = demo_patients()[0]
    resources = [e["resource"] for e in patient.bundle["entry"]]
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient.patient_id, "userId": "Practitioner/u1"},
        "prefetch": prefetch_of(resources),
    }
    response = create_app(settings).test_client().post("/cds-services/relapsed-all-risk", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    assert cards
    return cards


def test_no_app_link_when_no_issuer_may_launch_it(tmp_path: Path) -> None:
    settings = Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}")
    assert all("links" not in card for card in _cards(settings))


def test_app_links_when_an_issuer_may_launch_it(tmp_path: Path) -> None:
    settings = Settings(
        auth="none",
        database_url=f"sqlite:///{tmp_path / 'db'}",
        public_url="https://cds.example.org",
        smart_allowed_issuers=("https://ehr.example.org/fhir",),
        smart_redirect_url="https://cds.example.org/app/callback",
    )
    links = [link for card in _cards(settings) for link in card.get("links", [])]
    assert links
    assert all(link["url"].startswith("https://cds.example.org/app/launch?view=") for link in links)
