"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Our own record shaped like the HL7 mCODE pediatric B-ALL example (make_mcode_example.py).
MCODE_EXAMPLE = FIXTURES / "mcode-pediatric-b-all.json"

# Late evening in Chicago is already tomorrow in UTC: a date bug shows here.
FROZEN_NOW = datetime(2026, 11, 22, 21, 30, tzinfo=ZoneInfo("America/Chicago"))


@pytest.fixture
def frozen_clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FROZEN_NOW, tick=False) as traveller:
        yield traveller


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration/ runs real servers.
    integration = Path(__file__).parent / "integration"
    for item in items:
        if integration in item.path.parents:
            item.add_marker(pytest.mark.integration)
