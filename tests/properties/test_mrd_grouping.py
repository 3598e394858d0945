"""Property: the marrow measurements that `mappings.mrd.measurements` gives with the others are
those of the marrow results grouped alone (it groups once and regroups only what it must)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mappings.mrd import MrdResult, measurements
from mappings.observations import Reading
from service.domain.inputs import Mrd
from service.domain.thresholds import Comparator

DAY = date(2021, 7, 20)


@st.composite
def results(draw: st.DrawFn) -> list[MrdResult]:
    found = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        when = draw(st.none() | st.sampled_from([DAY, DAY + timedelta(days=1)]))
        value = draw(st.none() | st.sampled_from([1e-4, 1e-3]))
        reading = (
            Reading(problem="unreadable")
            if value is None
            else Reading(mrd=Mrd(value, Comparator.EQ, when, f"Observation/o{i}"))
        )
        # A few shared identifiers, so that results link across marrow and blood samples.
        links = draw(st.sets(st.sampled_from(["identifier:lab|1", "identifier:lab|2"])))
        found.append(
            MrdResult(
                source=f"Observation/o{i}",
                when=when,
                status=draw(st.sampled_from(["final", "preliminary", "amended", "registered"])),
                issued=None,
                reading=reading,
                marrow=draw(st.booleans()),
                links=frozenset({f"ref:Observation/o{i}", *links}),
            )
        )
    return found


@given(results())
def test_marrow_measurements_are_those_of_the_marrow_results_alone(
    found: list[MrdResult],
) -> None:
    _, marrow = measurements(found)
    alone, _ = measurements([r for r in found if r.marrow])
    assert marrow == alone
