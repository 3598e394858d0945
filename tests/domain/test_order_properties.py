"""Properties of the ORD-IDA-* checks over generated records (risk-schemes.md §9 readings)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.orders import (
    COUNTS,
    DOSE,
    M3,
    NOLABS,
    Day0Candidate,
    Dose,
    DraftOrder,
    OrderRecord,
    Value,
    check_order,
)

DAY0 = date(2026, 2, 1)
RELAPSE = date(2026, 1, 28)


def _values(source: str, low: int, high: int) -> st.SearchStrategy[tuple[Value, ...]]:
    value = st.builds(
        lambda v, d, i: Value(Decimal(v), DAY0 + timedelta(days=d), f"Observation/{source}{i}"),
        st.integers(low, high),
        st.integers(0, 30),
        st.integers(0, 3),
    )
    return st.lists(value, max_size=3).map(tuple)


@settings(max_examples=300, deadline=None)
@given(
    day=st.integers(-3, 30),
    dose=st.decimals(Decimal(5), Decimal(15), places=2),
    anc=_values("anc", 0, 3000),
    platelets=_values("plt", 0, 200_000),
    blasts=_values("bm", 0, 100),
)
def test_the_count_rules_exclude_each_other_and_dose_follows_the_limit(
    day: int,
    dose: Decimal,
    anc: tuple[Value, ...],
    platelets: tuple[Value, ...],
    blasts: tuple[Value, ...],
) -> None:
    record = OrderRecord(
        relapsed=True,
        relapse_count=1,
        relapse_date=RELAPSE,
        day0_candidates=(Day0Candidate("careplan", DAY0, "CarePlan/r"),),
        anc=anc,
        platelets=platelets,
        marrow_blasts=blasts,
    )
    order = DraftOrder(
        "MedicationRequest/d", DAY0 + timedelta(days=day), "timing.event", (Dose(dose, "mg/m2"),)
    )
    findings = check_order(order, record)
    rules = [f.rule for f in findings]
    assert len([r for r in rules if r in (COUNTS, M3, NOLABS)]) <= 1
    assert (DOSE in rules) == (dose > 10)
    for finding in findings:
        assert (finding.action == "delete") == (finding.rule == COUNTS)
        assert (finding.action == "update") == (finding.rule == DOSE)
        assert finding.indicator == (
            "warning" if finding.rule in (DOSE, COUNTS, NOLABS) else "info"
        )
    if not any(abs(day - d) <= 1 for d in (14, 21)):
        assert not {COUNTS, M3, NOLABS} & set(rules)
