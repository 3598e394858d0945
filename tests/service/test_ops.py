"""`/healthz`, `/readyz` and `/metrics`: what operations see, and that no patient data is in it."""

from __future__ import annotations

import json
from pathlib import Path

import flask
import pytest
from sqlalchemy import create_engine

from bench.data import hook_body, prefetch_of, synthetic_record
from mappings.codesets import load_codesets
from service.app import create_app
from service.ops import create_ops_blueprint
from service.settings import Settings

PATIENT = "ops-patient-7f3a"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> flask.testing.FlaskClient:
    db = tmp_path_factory.mktemp("ops") / "db.sqlite3"
    app = create_app(Settings(auth="none", database_url=f"sqlite:///{db}"))
    return app.test_client()


def test_healthz_and_readyz_answer_when_the_service_can_serve(
    client: flask.testing.FlaskClient,
) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "checks": {"database": True, "codesets": True}}


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = flask.Flask(__name__)
    unreachable = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db.sqlite3'}")
    app.register_blueprint(create_ops_blueprint(unreachable, load_codesets()))
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {"database": False, "codesets": True}


def test_metrics_count_calls_by_service_and_status_without_patient_data(
    client: flask.testing.FlaskClient,
) -> None:
    record = synthetic_record(20, patient=PATIENT)
    assert (
        client.post(
            "/cds-services/relapsed-all-risk", json=hook_body(PATIENT, prefetch_of(record))
        ).status_code
        == 200
    )
    assert client.post("/cds-services/relapsed-all-risk", data="{").status_code in (400, 415)
    assert client.post(f"/cds-services/{PATIENT}", json={}).status_code == 404
    text = client.get("/metrics").get_data(as_text=True)
    hook = 'endpoint="hook",service="relapsed-all-risk"'
    assert f'relapse_cds_calls_total{{{hook},status="200"}}' in text
    assert (
        'relapse_cds_call_seconds_bucket{endpoint="hook",le="+Inf",service="relapsed-all-risk"}'
        in text
    )
    assert "relapse_cds_fhir_read_seconds" in text
    assert "relapse_cds_fhir_read_failures" in text
    # Unknown services are not labels (a path is not a metric), and no patient id appears.
    assert PATIENT not in text
    assert json.dumps(record[0]["birthDate"]) not in text
