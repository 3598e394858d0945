"""The card and the SMART app it links to show the same groups for the same record.

Both read the record through the service's one fetch path (the engine); the app through the
demo EHR's FHIR proxy, the hook straight from the FHIR server behind it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from service.app import HOOK_PATH, create_app
from service.cards import ASSESSMENT_EXTENSION
from service.demo.catalog import DemoPatient
from service.demo.ehr import create_ehr_app
from service.domain.words import group_words
from service.settings import Settings
from tests.servers import wsgi_server
from tests.smart.conftest import LateApp

pytestmark = pytest.mark.integration
T = (3.05, 30.0)


@pytest.fixture(scope="module")
def stack(fhir_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(service URL, demo EHR URL): the whole service, SMART app included, and its demo EHR."""
    db: Path = tmp_path_factory.mktemp("same") / "service.sqlite3"
    service, ehr = LateApp(), LateApp()
    with wsgi_server(service) as service_url, wsgi_server(ehr) as ehr_url:
        ehr.app = create_ehr_app(fhir_base, ehr_url, f"{service_url}/app/launch", auto_approve=True)
        service.app = create_app(
            Settings(
                auth="none",
                database_url=f"sqlite:///{db}",
                smart_redirect_url=f"{service_url}/app/callback",
                smart_allowed_issuers=(f"{ehr_url}/fhir",),
                demo_ehr_url=ehr_url,
            )
        )
        yield service_url, ehr_url


def card_groups(service_url: str, fhir_base: str, patient_id: str) -> dict[str, str]:
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_base,
        "context": {"patientId": patient_id, "userId": "Practitioner/1"},
    }
    response = requests.post(f"{service_url}{HOOK_PATH}", json=body, timeout=T)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    (assessment,) = [c["extension"][ASSESSMENT_EXTENSION] for c in cards if "extension" in c]
    # In words, as a clinician reads it on the card and the page ("undetermined").
    return {key: group_words(scheme["group"]) for key, scheme in assessment["schemes"].items()}


def page_groups(ehr_url: str, patient_id: str) -> dict[str, str]:
    with requests.Session() as http:
        page = http.get(f"{ehr_url}/launch/{patient_id}", timeout=T)
    assert page.status_code == 200, page.text
    found = re.findall(r'id="h-s-(\w+)">.*?<p class="group g-\w+">([^<]+)</p>', page.text, re.S)
    return dict(found)


def test_card_groups_equal_page_groups_for_every_demo_patient(
    stack: tuple[str, str], fhir_base: str, patients: list[DemoPatient]
) -> None:
    service_url, ehr_url = stack
    for patient in patients:
        card = card_groups(service_url, fhir_base, patient.patient_id)
        assert len(card) == 5, patient.key
        assert page_groups(ehr_url, patient.patient_id) == card, patient.key
