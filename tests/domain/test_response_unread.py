"""Response to reinduction (risk-schemes §7) with part of the record unread: a failed prefetch key
that could hold the marrows and counts, or a day 0 that would win over the one found, makes the
response `indeterminate` naming it — never `pending`, nor a response read from the rest (§7: do
not invent, name what is missing)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.domain import assess
from service.domain.orders import Day0Candidate, Day0Kind, FailedRead
from service.domain.response import (
    INDETERMINATE,
    UNREAD_RULE,
    read_response,
    unread_reinduction,
)
from tests.domain.builders import make_inputs
from tests.domain.test_response import DAY0, LATER, on, record

OBSERVATIONS = FailedRead("Observations", frozenset({"event"}), values=True)
PROCEDURES = FailedRead("Procedures", frozenset({"event"}))
CAREPLANS = FailedRead("CarePlans", frozenset({"careplan"}))
ORDERS = FailedRead("MedicationRequests", frozenset({"drug-order"}))
GIVEN = FailedRead("MedicationAdministrations", frozenset({"drug"}))
RER_MARROWS = {7: "M1", 14: "M1", 28: "M1"}


def _day0_from(kind: Day0Kind) -> tuple[Day0Candidate, ...]:
    sources: dict[Day0Kind, str] = {
        "careplan": "CarePlan/re",
        "event": "Procedure/start",
        "drug": "MedicationAdministration/ida",
        "drug-order": "MedicationRequest/ida",
    }
    return (Day0Candidate(kind, DAY0, sources[kind]),)


def test_unread_observations_are_not_a_pending_response() -> None:
    # Day 3: without the failure the response is pending (no day-28 marrow yet).
    whole = read_response(record({}), on(3))
    assert whole is not None
    assert whole.cls == "pending"
    r = read_response(replace(record({}), failed_reads=(OBSERVATIONS,)), on(3))
    assert r is not None
    assert (r.cls, r.rule, r.cr2) == (INDETERMINATE, UNREAD_RULE, None)
    assert r.missing == ("marrows and blood counts: Observations could not be read",)


def test_unread_observations_are_not_a_response_read_from_the_rest() -> None:
    r = read_response(replace(record(RER_MARROWS), failed_reads=(OBSERVATIONS,)), LATER)
    assert r is not None
    assert (r.cls, r.marrows) == (INDETERMINATE, {})


@pytest.mark.parametrize(
    ("found", "failed", "decides"),
    [
        # A reinduction CarePlan is the first found (contract): no other key can change it.
        ("careplan", (PROCEDURES, OBSERVATIONS, ORDERS, GIVEN), ()),
        # A coded start: a CarePlan, or an earlier coded start, could date day 0 instead.
        ("event", (CAREPLANS,), (CAREPLANS,)),
        ("event", (PROCEDURES,), (PROCEDURES,)),
        ("event", (ORDERS, GIVEN), ()),
        # A drug given: an earlier drug given could; a drug only ordered could not.
        ("drug", (GIVEN,), (GIVEN,)),
        ("drug", (ORDERS,), ()),
        ("drug-order", (GIVEN, ORDERS), (GIVEN, ORDERS)),
    ],
)
def test_a_failed_read_decides_when_it_could_hold_the_day0_that_wins(
    found: Day0Kind, failed: tuple[FailedRead, ...], decides: tuple[FailedRead, ...]
) -> None:
    base = replace(record(RER_MARROWS), day0_candidates=_day0_from(found), failed_reads=failed)
    r = read_response(base, LATER)
    assert r is not None
    day0 = [m for m in r.missing if m.startswith("reinduction day 0")]
    assert day0 == [f"reinduction day 0: {f.what} could not be read" for f in decides]
    values = any(f.values for f in failed)
    assert r.cls == (INDETERMINATE if day0 or values else "RER")


def test_no_day0_with_a_failed_read_that_could_hold_one_is_named() -> None:
    bare = replace(record({28: "M3"}), day0_candidates=())
    assert read_response(bare, LATER) is None
    assert unread_reinduction(bare) is None  # nothing unread: there is no reinduction to read
    unread = replace(bare, failed_reads=(CAREPLANS, GIVEN))
    assert unread_reinduction(unread) == (
        "Response to reinduction (§7) not read: no reinduction day 0 was found, and CarePlans; "
        "MedicationAdministrations could not be read"
    )
    a = assess(make_inputs("late", "isolated_marrow"), LATER, "bfm", unread)
    assert a.response is None
    assert unread_reinduction(unread) in a.warnings
    # A second relapse has no response to read (§7), so nothing is missing for it.
    assert unread_reinduction(replace(unread, relapse_count=2)) is None


def test_an_unread_key_never_turns_a_day28_m3_into_path1() -> None:
    # The day-28 M3 would be RESP-FAIL → PATH-1; with the day 0 uncertain it is not read.
    m3 = replace(record({28: "M3"}), day0_candidates=_day0_from("drug"))
    inputs = make_inputs("late", "isolated_marrow")
    assert assess(inputs, LATER, "bfm", m3).pathway.plan == "relapsed_refractory"
    unsure = assess(inputs, LATER, "bfm", replace(m3, failed_reads=(CAREPLANS,)))
    assert unsure.pathway.plan != "relapsed_refractory"
    assert unsure.to_json()["response"]["missing"] == [
        "reinduction day 0: CarePlans could not be read"
    ]
