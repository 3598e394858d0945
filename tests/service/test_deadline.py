"""The hook's deadline bounds its CPU as its I/O: a mapping running past it stops (503)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from bench.data import prefetch_of, synthetic_record
from cds_hooks.prefetch import Prefetched
from service.app import create_app
from service.settings import Settings


def test_a_record_that_takes_past_the_deadline_is_503_not_a_late_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = synthetic_record(600, patient="p1")
    app = create_app(Settings(auth="none", database_url=f"sqlite:///{tmp_path / 'db'}"))
    # The clock jumps 10 minutes once the mapping has started: its next check must stop it.
    real = time.monotonic
    started: list[float] = []

    def check_then_jump(self: Prefetched) -> None:
        if started:
            monkeypatch.setattr(time, "monotonic", lambda: real() + 600)
        started.append(real())
        original(self)

    original = Prefetched.check_deadline
    monkeypatch.setattr(Prefetched, "check_deadline", check_then_jump)
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "p1", "userId": "Practitioner/u1"},
        "prefetch": prefetch_of(record),
    }
    response = app.test_client().post("/cds-services/relapsed-all-risk", json=body)
    assert response.status_code == 503
    assert response.get_json()["error"] == "deadline_passed"
    assert len(started) >= 2
