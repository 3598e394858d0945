"""JSON parsing with a nesting bound, for every body the service reads (requests, FHIR answers).

Deeply nested JSON parses (up to Python's recursion limit) but then breaks recursive code later
(encoders, validators) with a RecursionError; FHIR resources are far shallower than the bound.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    """The JSON nests objects and arrays more than MAX_DEPTH levels deep."""


def loads(data: str | bytes) -> Any:
    """Parse `data`; ValueError when it is not JSON, TooDeep when it nests too deeply."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep") from None
    # Iterative, so the check itself cannot overflow the stack.
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value
