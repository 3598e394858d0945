"""Load and durability against gunicorn with 2 workers, clients in a second process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.load import feedback_body, issued_cards
from bench.servers import Served, relapse_cds_serve, service_env
from cds_hooks.feedback import FeedbackStore
from tests.integration.postgres import database_of

pytestmark = pytest.mark.integration

LOAD_SECONDS = 20
FEEDBACK_POSTS = 1000


def run_client(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", *args],
        capture_output=True,
        text=True,
        timeout=LOAD_SECONDS + 90,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_of(request.param, tmp_path) as url:
        yield url


def test_sustained_load_has_no_errors_and_no_memory_growth(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path / 'feedback.sqlite3'}")
    with relapse_cds_serve(env, log=tmp_path / "server.log") as served:
        at_start = served.worker_rss_kib()
        # Warm-up: the first requests import and build what every later request reuses.
        warm = run_client("hooks", served.url, "--seconds", "3", "--threads", "2")
        warmed = served.worker_rss_kib()
        load = run_client("hooks", served.url, "--seconds", str(LOAD_SECONDS), "--threads", "4")
        at_end = served.worker_rss_kib()
    print(f"\nworker RSS KiB: start {at_start}, after warm-up {warmed}, end {at_end}")
    print(f"load: {load['requests']} hook calls in {LOAD_SECONDS} s: {load['statuses']}")
    assert warm["statuses"] == {"200": warm["requests"]}
    assert load["statuses"] == {"200": load["requests"]}
    assert load["requests"] > LOAD_SECONDS  # the service really was under load
    assert set(at_end) == set(at_start), "a worker died and was replaced"
    for pid, rss in at_end.items():
        assert rss < warmed[pid] * 1.5, f"worker {pid} grew from {warmed[pid]} to {rss} KiB"


def test_concurrent_feedback_is_stored_exactly_once_and_survives_restart(
    database_url: str, tmp_path: Path
) -> None:
    env = service_env(database_url)
    with relapse_cds_serve(env, log=tmp_path / "server.log") as served:
        result = run_client("feedback", served.url, "--count", str(FEEDBACK_POSTS))
        assert result["statuses"] == {"200": FEEDBACK_POSTS}
        assert len(served.worker_pids()) == 2
    store = FeedbackStore(database_url)
    assert store.count() == FEEDBACK_POSTS
    store.engine.dispose()
    with relapse_cds_serve(env, log=tmp_path / "server.log") as served:
        post_twice(served, feedback_body(issued_cards(served.url)[0]))
    store = FeedbackStore(database_url)
    assert store.count() == FEEDBACK_POSTS + 1
    store.engine.dispose()


def post_twice(served: Served, body: dict[str, Any]) -> None:
    """The same feedback twice: stored once (idempotent), both answered 200."""
    for _ in range(2):
        response = requests.post(
            f"{served.url}/cds-services/relapsed-all-risk/feedback", json=body, timeout=10
        )
        assert response.status_code == 200
