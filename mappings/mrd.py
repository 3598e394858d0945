"""Which MRD result stands, and the post-induction MRD (fhir-contract.md "Observations", issue 12).

- Results of one measurement are one: Observations sharing an `identifier` (the lab's accession)
  or an id (`mappings.standing`), and, among marrow results, those of the same sample day.
- Within one measurement, `amended`/`corrected` replace what they amend, `final` beats
  `preliminary` (the preliminary one is marked), and among equals the latest `issued` wins. Equals
  that disagree with nothing to order them are a conflict: the value is unknown, with a warning.
- The post-induction MRD is the first marrow measurement dated 21-60 days after the relapse. When
  that one cannot be read (no value, a conflict, not yet resulted) the MRD is unknown: the next
  result in the window never stands in for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from mappings.codesets import CodeSets
from mappings.fhirjson import as_str, ref
from mappings.observations import Reading, is_marrow_sample, observation_date, read_mrd
from mappings.standing import instant, linked, links, standing
from service.domain.inputs import Mrd


@dataclass(frozen=True, slots=True)
class MrdResult:
    source: str
    when: date | None
    status: str
    issued: datetime | None
    reading: Reading
    marrow: bool
    links: frozenset[str]  # keys naming the measurement: its id and identifiers


@dataclass(frozen=True, slots=True)
class Measurement:
    """The result that stands for one measurement, or why none does."""

    when: date | None
    mrd: Mrd | None
    problem: str | None
    sources: tuple[str, ...]  # every result of the measurement


def read_results(
    observations: Iterable[Mapping[str, Any]],
    codes: CodeSets,
    specimens: Mapping[str, Mapping[str, Any]],
) -> list[MrdResult]:
    return [
        MrdResult(
            source=ref(o),
            when=observation_date(o),
            status=as_str(o.get("status")) or "unknown",
            issued=instant(o.get("issued")),
            reading=read_mrd(o),
            marrow=is_marrow_sample(o, codes, specimens),
            links=links(o),
        )
        for o in observations
    ]


def measurements(results: list[MrdResult]) -> tuple[list[Measurement], list[Measurement]]:
    """The results grouped into measurements, each resolved, and the measurements of the marrow
    results alone (grouped among themselves); both ordered by date.

    Grouped and resolved once: a measurement made only of marrow results is the same in both.
    Only the marrow results of a measurement that also holds others (linked by an identifier)
    are grouped again, apart.
    """
    every, marrow = [], []
    mixed: list[MrdResult] = []
    for group in _groups(results):
        measurement = _resolve(group)
        every.append(measurement)
        if all(r.marrow for r in group):
            marrow.append(measurement)
        else:
            mixed += [r for r in group if r.marrow]
    marrow += [_resolve(g) for g in _groups(mixed)]
    return _by_date(every), _by_date(marrow)


def _by_date(found: list[Measurement]) -> list[Measurement]:
    return sorted(found, key=lambda m: (m.when is None, m.when or date.min, m.sources))


def _groups(results: list[MrdResult]) -> list[list[MrdResult]]:
    # Identifiers and ids link results wherever they are dated (`mappings.standing`); marrow
    # results of one day are one sample.
    return linked(results, _keys)


def _keys(r: MrdResult) -> Iterable[str]:
    if r.marrow and r.when is not None:
        return (*r.links, f"marrow-day:{r.when.isoformat()}")
    return r.links


def _resolve(group: list[MrdResult]) -> Measurement:
    group = sorted(group, key=lambda r: r.source)
    sources = tuple(r.source for r in group)
    best, top = standing(group)
    winner = top[0]
    when = winner.when or min((r.when for r in group if r.when), default=None)
    if best == 0:
        return Measurement(when, None, f"{winner.source}: MRD not yet resulted", sources)
    if len({_value(r.reading) for r in top}) > 1:
        names = ", ".join(r.source for r in top)
        problem = f"MRD results that disagree with nothing to order them ({names}): MRD unknown"
        return Measurement(when, None, problem, sources)
    if winner.reading.mrd is None:
        return Measurement(when, None, winner.reading.problem, sources)
    mrd = replace(winner.reading.mrd, preliminary=winner.status == "preliminary")
    return Measurement(when, mrd, None, sources)


def _value(reading: Reading) -> tuple[Any, ...]:
    m = reading.mrd
    return ("unread",) if m is None else (m.value, m.comparator, m.date)
