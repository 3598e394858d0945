"""Which results stand (fhir-contract.md, "The leukemia": `amended`/`corrected` replace what they
amend; a `preliminary` one counts but is marked).

- Results linked by an `identifier` (system|value: the lab's accession) or by the same id are one
  result, wherever they are dated.
- Of one result, `amended`/`corrected` stand over `final` (or no status the reader knows) over
  `preliminary` over `registered`, and among those the latest `issued` (when every one has it;
  a reader may keep every one of the top status instead: genetics does). Equals that nothing
  orders all stand: what a reader does with them is its own business (MRD calls disagreeing
  ones a conflict; genetics reads them all, present winning, as it reads unlinked results).

MRD (`mappings.mrd`) groups its results with these links and more (a marrow sample day);
marrow blasts at relapse, karyotypes and genomic results are read only where they stand
(`standing_observations`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from mappings.fhirjson import as_dict, as_list, as_str, ref

# How far a status settles a result; `registered` has no result yet.
_RANK = {"registered": 0, "preliminary": 1, "final": 2, "unknown": 2, "amended": 3, "corrected": 3}


def instant(value: Any) -> datetime | None:
    text = as_str(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def links(resource: Mapping[str, Any]) -> frozenset[str]:
    """The keys naming the result a resource reports: its id and its identifiers."""
    found = {f"ref:{ref(resource)}"} if isinstance(resource.get("id"), str) else set()
    for raw in as_list(resource.get("identifier")):
        ident = as_dict(raw)
        value = as_str(ident.get("value"))
        if value:
            found.add(f"identifier:{as_str(ident.get('system')) or ''}|{value}")
    return frozenset(found)


T = TypeVar("T")


def linked(items: Sequence[T], keys: Callable[[T], Iterable[str]]) -> list[list[T]]:
    """The items grouped by shared keys (a union-find: keys link items transitively), each group
    in the items' order."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, item in enumerate(items):
        for key in keys(item):
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[T]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return list(groups.values())


class Ranked(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def issued(self) -> datetime | None: ...


R = TypeVar("R", bound=Ranked)


def standing(group: Sequence[R], *, by_issued: bool = True) -> tuple[int, list[R]]:
    """The status rank that settles one result and the results that stand at it: the highest
    status, then among those the latest `issued` (when every one has it and `by_issued`)."""
    best = max(_RANK.get(r.status, 2) for r in group)
    top = [r for r in group if _RANK.get(r.status, 2) == best]
    if by_issued and all(r.issued is not None for r in top):
        latest = max(r.issued for r in top if r.issued is not None)
        top = [r for r in top if r.issued == latest]
    return best, top


@dataclass(frozen=True, slots=True)
class _Written:
    status: str
    issued: datetime | None
    index: int
    links: frozenset[str]


def standing_observations(
    observations: Sequence[Mapping[str, Any]], *, by_issued: bool = True
) -> list[Mapping[str, Any]]:
    """The Observations that stand, in the order given: of those linked by an identifier or the
    same id, only the ones `standing` keeps (`by_issued`: the latest issued among equals)."""
    if len(observations) < 2:
        return list(observations)
    written = [
        _Written(as_str(o.get("status")) or "unknown", instant(o.get("issued")), i, links(o))
        for i, o in enumerate(observations)
    ]
    kept: set[int] = set()
    for group in linked(written, lambda w: w.links):
        top = group if len(group) == 1 else standing(group, by_issued=by_issued)[1]
        kept.update(w.index for w in top)
    return [o for i, o in enumerate(observations) if i in kept]
