"""The record the response to reinduction reads (mappings.orders.read_record; risk-schemes §7)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from mappings.codesets import CodeSets
from mappings.orders import read_record
from service.domain.orders import OrderRecord, Unread
from service.engine import prefetch_templates
from tests.service.order_builders import DAY0, anc, day, marrow, quantity, record


def _read(codes: CodeSets, *resources: dict[str, Any]) -> OrderRecord:
    return read_record([*record(), *resources], codes, patient_id="p")


def _with(r: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**r, **fields}


def test_marrows_of_one_day_resolve_by_status(codes: CodeSets) -> None:
    # As for MRD (mappings.mrd): amended/corrected over final over preliminary.
    preliminary = _with(marrow(2, day(28), "pre"), status="preliminary")
    final = marrow(40, day(28), "fin")
    amended = _with(marrow(12, day(28), "amd"), status="amended")
    read = _read(codes, preliminary, final)
    assert [(v.value, v.source) for v in read.marrow_blasts] == [(Decimal(40), "Observation/fin")]
    read = _read(codes, final, amended, preliminary)
    assert [v.source for v in read.marrow_blasts] == ["Observation/amd"]
    assert read.unread == ()


def test_equals_of_one_day_order_by_issued_else_are_unread(codes: CodeSets) -> None:
    a = _with(marrow(2, day(28), "a"), issued="2026-03-02T10:00:00Z")
    b = _with(marrow(40, day(28), "b"), issued="2026-03-01T10:00:00Z")
    assert [v.source for v in _read(codes, a, b).marrow_blasts] == ["Observation/a"]
    read = _read(codes, marrow(2, day(28), "a"), marrow(40, day(28), "b"))
    assert read.marrow_blasts == ()
    assert read.unread_values == (
        Unread("marrow_blasts", DAY0 + timedelta(days=28), "Observation/a, Observation/b"),
    )


def test_unreadable_marrows_and_counts_keep_their_date(codes: CodeSets) -> None:
    bad_marrow = _with(marrow(2, day(28), "bm"), valueQuantity={"value": 2, "code": "mg"})
    bad_count = anc(1200, unit="cells", on=day(29))
    undated = {k: v for k, v in marrow(2, rid="undated").items() if k != "effectiveDateTime"}
    read = _read(codes, bad_marrow, bad_count, undated)
    assert set(read.unread_values) == {
        Unread("marrow_blasts", DAY0 + timedelta(days=28), "Observation/bm"),
        Unread("anc", DAY0 + timedelta(days=29), "Observation/anc"),
        Unread("marrow_blasts", None, "Observation/undated"),
    }
    assert len(read.unread) == 3


def _circulating(rid: str, value: float, unit: str = "%") -> dict[str, Any]:
    return quantity(rid, "709-6", value, unit, day(28))


def test_circulating_blasts_are_read_from_loinc_709_6_in_percent(codes: CodeSets) -> None:
    read = _read(codes, _circulating("pb", 4))
    assert [(v.value, v.source) for v in read.circulating_blasts] == [
        (Decimal(4), "Observation/pb")
    ]
    read = _read(codes, _circulating("unit", 4, "10*3/uL"), _circulating("range", 140))
    assert read.circulating_blasts == ()
    assert {u.source for u in read.unread_values if u.kind == "circulating_blasts"} == {
        "Observation/unit",
        "Observation/range",
    }


def test_the_prefetch_asks_for_circulating_blasts(codes: CodeSets) -> None:
    assert "http://loinc.org|709-6" in prefetch_templates(codes)["observations"]
