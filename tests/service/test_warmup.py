"""The warm-up each gunicorn worker runs before it accepts (service.warmup)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cds_hooks.feedback import FeedbackStore, issued_cards_table
from mappings import fhirjson
from service.app import create_app
from service.settings import Settings
from service.warmup import WORKER_WARM_UP


def _worker_warm_up(database: Path) -> Callable[[], None]:
    app = create_app(Settings(auth="none", database_url=f"sqlite:///{database}"))
    warm: Callable[[], None] = app.extensions[WORKER_WARM_UP]
    return warm


def test_every_worker_warm_up_validates_anew_and_records_no_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = _worker_warm_up(tmp_path / "db.sqlite3")
    validated: list[str] = []
    validate = fhirjson._validate

    def counted(resource: Mapping[str, Any]) -> str | None:
        validated.append(resource["resourceType"])
        return validate(resource)

    monkeypatch.setattr(fhirjson, "_validate", counted)
    for _ in range(2):
        validated.clear()
        warm()
        # A record the memo had seen would skip the validators: the pages they touch stay cold.
        # The drugs too: day 0 validates them, and the first real call would build those models.
        drugs = {"MedicationRequest", "MedicationAdministration"}
        assert {"Patient", "Condition", "Observation", *drugs} <= set(validated)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as connection:
        count = sa.select(sa.func.count()).select_from(issued_cards_table)
        assert connection.execute(count).scalar_one() == 0
    engine.dispose()


def test_a_worker_warms_up_without_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    warm = _worker_warm_up(tmp_path / "db.sqlite3")

    def down(*_: object) -> None:
        raise sa.exc.OperationalError("DELETE", {}, Exception("unreachable"))

    monkeypatch.setattr(FeedbackStore, "record_issued", down)
    warm()
    assert "the database did not answer" in caplog.text
