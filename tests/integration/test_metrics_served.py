"""`/metrics` under gunicorn adds up every worker's counts (prometheus_client multiprocess mode)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bench.data import hook_body, prefetch_of, synthetic_record
from bench.servers import relapse_cds_serve, service_env

pytestmark = pytest.mark.integration

CALLS = 40


def test_metrics_count_the_calls_of_every_worker(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    body = hook_body("bench-1", prefetch_of(synthetic_record(20)))
    with relapse_cds_serve(env, log=tmp_path / "server.log") as served:
        url = f"{served.url}/cds-services/relapsed-all-risk"

        def call(_: int) -> int:
            # A fresh connection each time, so both workers take calls.
            answer = requests.post(url, json=body, timeout=30, headers={"Connection": "close"})
            return answer.status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(call, range(CALLS)))
        text = requests.get(f"{served.url}/metrics", timeout=10).text
        assert requests.get(f"{served.url}/readyz", timeout=10).status_code == 200
    assert statuses == [200] * CALLS
    line = re.search(
        r'^relapse_cds_calls_total\{endpoint="hook",service="relapsed-all-risk",status="200"\} '
        r"([0-9.]+)$",
        text,
        flags=re.MULTILINE,
    )
    assert line is not None, text
    assert float(line.group(1)) == CALLS
    # Every worker's calls are in it (one worker's own registry would hold only its share).
    assert "bench-1" not in text
