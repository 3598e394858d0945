"""JSON parsing with a nesting bound, for every body the service reads (requests, FHIR answers).

Deeply nested JSON parses (up to Python's recursion limit) but then breaks recursive code later
(encoders, validators) with a RecursionError; FHIR resources are far shallower than the bound.
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64

# The depth is read from the text, not the parsed value: walking every value in Python cost more
# than parsing it. Only brackets outside strings nest: escapes go first (so that every quote left
# opens or closes a string), then all but brackets and quotes, then the strings.
_KEPT = b'[]{}"'
_NOT_KEPT = bytes(b for b in range(256) if b not in _KEPT)
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeep(ValueError):
    """The JSON nests objects and arrays more than MAX_DEPTH levels deep."""


def loads(data: str | bytes) -> Any:
    """Parse `data`; ValueError when it is not JSON, TooDeep when it nests too deeply."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep") from None
    if isinstance(value, dict | list) and depth(data) > MAX_DEPTH:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")
    return value


def depth(data: str | bytes) -> int:
    """How deep the objects and arrays of valid JSON text nest (0 for a scalar)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(raw)
    if encoding != "utf-8":  # json.loads reads UTF-16 and UTF-32 too; brackets counted in UTF-8
        raw = raw.decode(encoding).encode("utf-8", "surrogatepass")
    # A run of backslashes pairs from its left: what is left escapes the next character.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Every other piece between quotes is a string's.
    brackets = b"".join(unescaped.translate(None, _NOT_KEPT).split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
