"""Which MRD result stands, and the post-induction MRD (fhir-contract.md "Observations", issue 12).

- Results of one measurement are one: Observations sharing an `identifier` (the lab's accession)
  or an id, and, among marrow results, those of the same sample day.
- Within one measurement, `amended`/`corrected` replace what they amend, `final` beats
  `preliminary` (the preliminary one is marked), and among equals the latest `issued` wins. Equals
  that disagree with nothing to order them are a conflict: the value is unknown, with a warning.
- The post-induction MRD is the first marrow measurement dated 21-60 days after the relapse. When
  that one cannot be read (no value, a conflict, not yet resulted) the MRD is unknown: the next
  result in the window never stands in for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

from mappings.codesets import CodeSets
from mappings.fhirjson import as_dict, as_list, as_str, ref
from mappings.observations import Reading, is_marrow_sample, observation_date, read_mrd
from service.domain.inputs import Mrd

# How far a status settles a result; `registered` has no result yet.
_RANK = {"registered": 0, "preliminary": 1, "final": 2, "unknown": 2, "amended": 3, "corrected": 3}


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
    results = []
    for o in observations:
        links = {f"ref:{ref(o)}"} if isinstance(o.get("id"), str) else set()
        for raw in as_list(o.get("identifier")):
            ident = as_dict(raw)
            value = as_str(ident.get("value"))
            if value:
                links.add(f"identifier:{as_str(ident.get('system')) or ''}|{value}")
        results.append(
            MrdResult(
                source=ref(o),
                when=observation_date(o),
                status=as_str(o.get("status")) or "unknown",
                issued=instant(o.get("issued")),
                reading=read_mrd(o),
                marrow=is_marrow_sample(o, codes, specimens),
                links=frozenset(links),
            )
        )
    return results


def instant(value: Any) -> datetime | None:
    text = as_str(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
    # Union-find over shared keys: identifiers and ids link results wherever they are dated;
    # marrow results of one day are one sample.
    parent = list(range(len(results)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, r in enumerate(results):
        keys = set(r.links)
        if r.marrow and r.when is not None:
            keys.add(f"marrow-day:{r.when.isoformat()}")
        for key in keys:
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[MrdResult]] = {}
    for i, r in enumerate(results):
        groups.setdefault(find(i), []).append(r)
    return list(groups.values())


class Ranked(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def issued(self) -> datetime | None: ...


R = TypeVar("R", bound=Ranked)


def standing(group: Sequence[R]) -> tuple[int, list[R]]:
    """The status rank that settles one measurement and the results that stand at it: the
    highest status, then among those the latest `issued` (when every one has it)."""
    best = max(_RANK.get(r.status, 2) for r in group)
    top = [r for r in group if _RANK.get(r.status, 2) == best]
    if all(r.issued is not None for r in top):
        latest = max(r.issued for r in top if r.issued is not None)
        top = [r for r in top if r.issued == latest]
    return best, top


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
