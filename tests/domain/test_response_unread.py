"""Response to reinduction (risk-schemes §7) with part of the record unread: a failed prefetch key
that could hold the marrows and counts, or a day 0 that would win over the one found, makes the
response `indeterminate` naming it — never `pending`, nor a response read from the rest (§7: do
not invent, name what is missing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from service.domain import assess
from service.domain.orders import Day0Candidate, Day0Kind, FailedRead, OrderRecord
from service.domain.response import (
    INDETERMINATE,
    UNREAD_RULE,
    read_response,
    unread_reinduction,
)
from tests.domain.builders import make_inputs
from tests.domain.test_response import DAY0, LATER, RELAPSE, on, record, unread

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
    # The day-28 M3 would be RESP-FAIL → PATH-1; with the day 0 uncertain it is not read, and
    # the plan is worked out over both (§4): undetermined, decided by the response.
    m3 = replace(record({28: "M3"}), day0_candidates=_day0_from("drug"))
    inputs = make_inputs("late", "isolated_marrow")
    assert assess(inputs, LATER, "bfm", m3).pathway.plan == "relapsed_refractory"
    unsure = assess(inputs, LATER, "bfm", replace(m3, failed_reads=(CAREPLANS,)))
    assert unsure.pathway.plan == "indeterminate"
    assert unsure.pathway.decided_by == ("response",)
    assert "response to reinduction" in unsure.pathway.reason
    assert unsure.to_json()["response"]["missing"] == [
        "reinduction day 0: CarePlans could not be read"
    ]
    assert unsure.response is not None
    assert unsure.response.unassigned == "day 0 uncertain"
    # What would change the answer: the response, in words, each way.
    changes = {c.condition: c.answer for c in unsure.changes if c.target == "plan"}
    assert changes["response to reinduction: induction failure"] == "relapsed_refractory"
    assert "response to reinduction: no induction failure" in changes


def test_an_unread_key_before_any_day_28_window_leaves_the_plan_alone() -> None:
    # Day 20 after the relapse: no day 0 on or after it puts a day-28 marrow before as-of.
    m1 = replace(record({7: "M1"}), day0_candidates=_day0_from("drug"), failed_reads=(CAREPLANS,))
    inputs = make_inputs("late", "isolated_marrow")
    early = RELAPSE + timedelta(days=24)
    r = read_response(m1, early)
    assert r is not None
    assert (r.cls, r.could_fail) == (INDETERMINATE, False)
    assert assess(inputs, early, "bfm", m1).pathway == assess(inputs, early, "bfm").pathway


@pytest.mark.parametrize(
    ("changed", "fails"),
    [
        # An unreadable day-28 marrow could be M2/M3.
        (lambda r: unread(r, "marrow_blasts", 28), True),
        # An unreadable Condition could be disease still documented at day 28.
        (lambda r: unread(r, "site_disease", 28, "Condition/bad"), True),
        # No day-28 marrow after day 35: it could be M2/M3.
        (lambda r: replace(r, marrow_blasts=r.marrow_blasts[:2]), True),
        # M1 on day 28 without count recovery is never a failure (§7).
        (lambda r: replace(r, anc=(), platelets=()), False),
        # An unreadable count beside an M1 marrow cannot make a failure either.
        (lambda r: unread(r, "anc", 28), False),
    ],
    ids=["unread-day28-marrow", "unread-condition", "no-day28-marrow", "no-counts", "unread-anc"],
)
def test_an_undetermined_response_leaves_the_plan_open_only_when_it_could_fail(
    changed: Callable[[OrderRecord], OrderRecord], fails: bool
) -> None:
    inputs = make_inputs("late", "isolated_marrow")
    r = changed(record(RER_MARROWS))
    response = read_response(r, LATER)
    assert response is not None
    assert (response.cls, response.could_fail) == (INDETERMINATE, fails)
    a = assess(inputs, LATER, "bfm", r)
    if fails:
        assert (a.pathway.plan, a.pathway.decided_by) == ("indeterminate", ("response",))
    else:
        assert a.pathway == assess(inputs, LATER, "bfm").pathway
        assert not a.inputs.refractory
