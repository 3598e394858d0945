"""Lenient readers of plain FHIR JSON, and per-resource validation with fhir.resources.R4B."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

_MODELS: dict[str, Any] = {}
_MODULES = {
    "Patient": "patient",
    "Condition": "condition",
    "Observation": "observation",
    "Procedure": "procedure",
    "CarePlan": "careplan",
    "Specimen": "specimen",
    "Medication": "medication",
    "MedicationRequest": "medicationrequest",
    "MedicationAdministration": "medicationadministration",
}
_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def ref(resource: Mapping[str, Any]) -> str:
    """`Type/id` of a resource: the only identifier warnings and sources may carry."""
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    return (
        f"{rtype if isinstance(rtype, str) else 'Resource'}/{rid if isinstance(rid, str) else '?'}"
    )


# Validation is a pure function of a resource's JSON and costs ~0.1 ms a resource, most of the
# assessment: a resource seen before (patient-view fires at every opening of the chart, with
# the same record) is not validated again. Keyed by a digest, so no patient data is kept; bounded.
MEMO_SIZE = 50_000
_memo: OrderedDict[bytes, str | None] = OrderedDict()
_memo_lock = threading.Lock()


def validation_problem(resource: Mapping[str, Any]) -> str | None:
    """None when the resource validates as R4B, else a short reason without any value."""
    try:
        text = json.dumps(resource, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return _validate(resource)  # not plain JSON: not remembered
    key = hashlib.blake2b(text, digest_size=16).digest()
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    problem = _validate(resource)
    with _memo_lock:
        _memo[key] = problem
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return problem


def _validate(resource: Mapping[str, Any]) -> str | None:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or rtype not in _MODULES:
        return "unsupported resource type"
    model = _MODELS.get(rtype)
    if model is None:
        module = importlib.import_module(f"fhir.resources.R4B.{_MODULES[rtype]}")
        model = _MODELS.setdefault(rtype, getattr(module, rtype))
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        errors = exc.errors()
        loc = errors[0]["loc"] if errors else ()
        where = ".".join(str(p) for p in loc if not str(p).startswith("function"))
        return f"invalid field '{where}'" if where else "invalid resource"
    except (ValueError, TypeError):
        return "invalid resource"
    return None


_NAIVE_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?$")


def with_time_zones(value: Any) -> tuple[Any, bool]:
    """A copy of `value` in which every dateTime written without a time zone has one (UTC), for
    validation only, and whether there was such a dateTime. EHRs write local times without a
    zone (R4 requires one): the date is still the date as written (`full_date`)."""
    if isinstance(value, Mapping):
        keyed = {k: with_time_zones(v) for k, v in value.items()}
        return {k: v for k, (v, _) in keyed.items()}, any(f for _, f in keyed.values())
    if isinstance(value, list):
        items = [with_time_zones(v) for v in value]
        return [v for v, _ in items], any(f for _, f in items)
    if isinstance(value, str) and (m := _NAIVE_DATETIME.match(value)):
        return f"{m[1]}{m[2] or ':00'}+00:00", True
    return value, False


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def codings(concept: Any) -> Iterator[Mapping[str, Any]]:
    """The codings of a CodeableConcept (a dict), or of a list of them."""
    concepts = concept if isinstance(concept, list) else [concept]
    for c in concepts:
        # Read for every resource of a record: parsed JSON is dicts, checked before the ABC.
        found = c.get("coding") if type(c) is dict or isinstance(c, Mapping) else None
        if isinstance(found, list):
            for coding in found:
                if type(coding) is dict or isinstance(coding, Mapping):
                    yield coding


def full_date(value: Any) -> date | None:
    """The calendar date of a FHIR date/dateTime as written; None when partial or invalid.

    The local date of a dateTime is kept (no shift to UTC): clinical dates are local.
    """
    text = as_str(value)
    if text is None:
        return None
    m = _FULL_DATE.match(text)
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _words(phrase: str) -> str:
    words = r"\s+".join(re.escape(w) for w in phrase.split())
    return rf"(?<![\w-]){words}(?![\w-])"


def has_words(text: str, phrase: str) -> bool:
    """Whether lower-case `text` holds `phrase` as whole words (any run of spaces between)."""
    return re.search(_words(phrase), text) is not None


def is_partial_date(value: Any) -> bool:
    """A date written but not to the day (e.g. "2020-05"), or not a date at all."""
    return value is not None and full_date(value) is None


def reference_target(reference: Any) -> str | None:
    """`Type/id` of a Reference, with any base URL or history dropped."""
    text = as_str(as_dict(reference).get("reference"))
    if not text:
        return None
    parts = text.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else None
