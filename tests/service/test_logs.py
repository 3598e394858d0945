from __future__ import annotations

import json
import logging

from service.logs import JsonFormatter


def test_json_lines_carry_the_call_fields_and_nothing_else_attached() -> None:
    call = {
        "service": "relapsed-all-risk",
        "hookInstance": "h-1",
        "status": 200,
        "duration_ms": 3.2,
    }
    record = logging.LogRecord(
        "cds_hooks.blueprint", logging.INFO, __file__, 1, "cds call", (), None
    )
    record.cds_call = call
    record.patient = "Patient/123"  # an attribute the formatter must not pass on
    entry = json.loads(JsonFormatter().format(record))
    assert entry["cds_call"] == call
    assert entry["level"] == "INFO"
    assert "Patient/123" not in json.dumps(entry)
