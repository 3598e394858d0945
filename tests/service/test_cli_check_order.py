"""`relapse-cds check-order`: the order-sign checks on files, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from tests.fixtures.make_order_demo import DEMO, KEY, draft_orders

RECORD = DEMO / "patients" / f"{KEY}.json"
ORDERS = DEMO / "orders" / f"{KEY}.json"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["check-order", *args])
    return code, json.loads(capsys.readouterr().out)


def test_the_demo_order_gets_the_dose_and_counts_findings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    single = tmp_path / "order.json"
    single.write_text(json.dumps(draft_orders()["entry"][0]["resource"]))
    for order in (ORDERS, single):
        code, out = _run(capsys, "--order", str(order), str(RECORD))
        assert code == 0
        findings = out["findings"]
        assert isinstance(findings, list)
        assert [(f["rule"], f["action"]) for f in findings] == [
            ("ORD-IDA-DOSE", "update"),
            ("ORD-IDA-COUNTS", "delete"),
        ]
        assert out["patient"] == "Patient/rel-reinduction-day14"


def test_a_second_relapse_has_no_finding(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    orders = draft_orders()
    orders["entry"][0]["resource"]["subject"] = {"reference": "Patient/rel-second-relapse"}
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(orders))
    code, out = _run(capsys, "--order", str(path), str(DEMO / "patients" / "second-relapse.json"))
    assert (code, out["findings"]) == (0, [])


def test_a_draft_that_is_not_a_draft_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    order = tmp_path / "order.json"
    order.write_text(json.dumps({**draft_orders()["entry"][0]["resource"], "status": "active"}))
    code, out = _run(capsys, "--order", str(order), str(RECORD))
    assert code == 1
    assert "must be 'draft'" in str(out["error"])


def test_unreadable_files_are_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, out = _run(capsys, "--order", str(bad), str(RECORD))
    assert code == 1
    assert "not JSON" in str(out["error"])
    code, out = _run(capsys, "--order", str(ORDERS), str(tmp_path / "missing.json"))
    assert code == 1
    assert "cannot read" in str(out["error"])
