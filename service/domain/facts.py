"""Fully known facts, and the possible worlds of a record with unknowns (risk-schemes.md §3).

Each scheme is a function of a fully known `Facts`. "Missing but every possible value gives the
same group" is implemented once, here: `Space` enumerates the values each unknown input could
take, and `decide` answers the outcome when every world agrees, else names the inputs whose
value made the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from functools import lru_cache
from itertools import product
from typing import Generic, TypeVar

from dateutil.relativedelta import relativedelta

from service.domain.inputs import HIGH_RISK_MARKERS, Lineage, MarkerStatus, Mrd, RelapseInputs, Site
from service.domain.sites import pattern_of, read_sites
from service.domain.thresholds import below
from service.domain.timing import EARLY, LATE, VERY_EARLY, before_months

# Input names, in the order `missing` and `decided_by` list them.
INPUT_NAMES: tuple[str, ...] = (
    "lineage",
    "diagnosis_date",
    "relapse_date",
    "end_of_therapy",
    "sites",
    "marrow_blasts",
    "mrd",
    "genetics",
    "birth_date",
    "response",  # the response to reinduction, when it could still be a failure (§7)
)
MRD_THRESHOLDS: tuple[float, ...] = (1e-4, 1e-3)
DIMENSIONS: frozenset[str] = frozenset(
    {"lineage", "dx", "eot", "sites", "mrd", "genetics", "age", "refractory"}
)


class MrdBand(StrEnum):
    """Post-induction MRD relative to the thresholds the schemes use (1e-4 and 1e-3)."""

    BELOW_1E4 = "< 1e-4"
    BELOW_1E3 = "1e-4 to < 1e-3"
    AT_LEAST_1E3 = "≥ 1e-3"

    @property
    def upper_bound(self) -> float | None:
        """The band's exclusive upper bound; None for the open top band."""
        return {MrdBand.BELOW_1E4: 1e-4, MrdBand.BELOW_1E3: 1e-3}.get(self)

    def below(self, threshold: float) -> bool:
        if threshold not in MRD_THRESHOLDS:
            # The bands split only at these; any other threshold would be answered wrongly.
            raise ValueError(f"MRD threshold {threshold} is not one of {MRD_THRESHOLDS}")
        return self.upper_bound is not None and self.upper_bound <= threshold


def mrd_position(mrd: Mrd | None, threshold: float) -> bool | None:
    """True below `threshold`, False at or above it, None unknown (§3 comparator rules)."""
    return None if mrd is None else below(mrd.value, mrd.comparator, threshold)


def mrd_bands(mrd: Mrd | None) -> tuple[MrdBand, ...]:
    """The bands consistent with a result, checked against each threshold."""
    positions = [mrd_position(mrd, t) for t in MRD_THRESHOLDS]
    return tuple(
        band
        for band in MrdBand
        if all(
            p is None or band.below(t) == p for t, p in zip(MRD_THRESHOLDS, positions, strict=True)
        )
    )


@dataclass(frozen=True, slots=True)
class Facts:
    """One fully known world: every fact the schemes and the pathway read."""

    lineage: Lineage
    lt18: bool  # relapse < diagnosis + 18 months
    lt36: bool  # relapse < diagnosis + 36 months
    within6: bool  # on therapy, or relapse < end of therapy + 6 months
    sites: frozenset[Site]
    mrd: MrdBand
    high_risk_genetics: bool
    tp53: bool
    age15: bool  # age ≥ 15 years at diagnosis
    later_relapse: bool = False
    # A trial exclusion counts only when documented (§3), so it is fixed, never a world value.
    bcr_abl1: MarkerStatus = MarkerStatus.ABSENT
    prior_hsct: bool = False
    refractory: bool = False
    # High-risk markers no result covered (InPOG-ALL-R1's standard, which rests on their
    # absence, names them); a fact of the record, the same in every world.
    uncovered: tuple[str, ...] = ()

    @property
    def timing_bfm(self) -> str:
        if self.lt18:
            return VERY_EARLY
        return EARLY if self.within6 else LATE

    @property
    def marrow(self) -> bool:
        return Site.MARROW in self.sites

    @property
    def pattern(self) -> str:
        return pattern_of(self.sites)

    @property
    def timing_cog(self) -> str:
        return EARLY if (self.lt36 if self.marrow else self.lt18) else LATE


Patch = tuple[tuple[str, object], ...]  # Facts field → value


@dataclass(frozen=True, slots=True)
class Dimension:
    """An unknown input and the values it could take, each a patch of `Facts` fields.

    `names` are the input names reported when this dimension makes the difference.
    """

    key: str
    names: tuple[str, ...]
    values: tuple[Patch, ...]


@dataclass(frozen=True, slots=True)
class Space:
    """Every world consistent with a record: the product of its dimensions."""

    dims: tuple[Dimension, ...]
    fixed: Facts  # the known facts; dimension values replace the unknown ones

    def dim(self, key: str) -> Dimension:
        return next(d for d in self.dims if d.key == key)

    def restrict(self, key: str, values: tuple[Patch, ...]) -> Space:
        dims = tuple(replace(d, values=values) if d.key == key else d for d in self.dims)
        return replace(self, dims=dims)

    def project(self, keys: frozenset[str]) -> Space:
        """Only the dimensions an outcome reads; the others keep one (unread) value."""
        dims = tuple(d if d.key in keys else replace(d, values=d.values[:1]) for d in self.dims)
        return replace(self, dims=dims)

    def worlds(self) -> tuple[tuple[tuple[int, ...], Facts], ...]:
        """Each world with its combination of value indexes."""
        return _worlds(self)


@lru_cache(maxsize=256)
def _worlds(space: Space) -> tuple[tuple[tuple[int, ...], Facts], ...]:
    base = {f.name: getattr(space.fixed, f.name) for f in fields(Facts)}
    worlds = []
    for combo in product(*(range(len(d.values)) for d in space.dims)):
        values = dict(base)
        for dim, index in zip(space.dims, combo, strict=True):
            values.update(dim.values[index])
        worlds.append((combo, Facts(**values)))
    return tuple(worlds)


# Refractory unknown: an undetermined response to reinduction that could still be a failure
# (RESP-FAIL is refractory disease, §4 PATH-1), named "response". Only the plan reads it.
RESPONSE_UNKNOWN = Dimension(
    "refractory", ("response",), ((("refractory", False),), (("refractory", True),))
)


def with_response_unknown(space: Space) -> Space:
    """`space` with refractory unknown, as an undetermined response that could fail leaves it."""
    return replace(space, dims=(*space.dims, RESPONSE_UNKNOWN))


def _missing(inputs: RelapseInputs, *names: str) -> tuple[str, ...]:
    return tuple(n for n in names if getattr(inputs, n) is None)


def _both(known: bool | None) -> tuple[bool, ...]:
    return (False, True) if known is None else (known,)


def age_at_diagnosis(inputs: RelapseInputs) -> int | None:
    """Completed years from birth to diagnosis, when both are known."""
    dx, born = inputs.diagnosis_date, inputs.birth_date
    return None if dx is None or born is None else relativedelta(dx, born).years


def build_space(inputs: RelapseInputs, age: int | None) -> Space:
    """The worlds consistent with a relapsed patient's record."""
    dx, rel, eot = inputs.diagnosis_date, inputs.relapse_date, inputs.end_of_therapy
    if dx is not None and rel is not None:
        dx_values: tuple[tuple[bool, bool], ...] = (
            (before_months(rel, dx, 18), before_months(rel, dx, 36)),
        )
    else:
        dx_values = ((True, True), (False, True), (False, False))
    if inputs.on_therapy is True:
        within6: tuple[bool, ...] = (True,)
    elif eot is not None and rel is not None:
        within6 = (before_months(rel, eot, 6),)
    else:
        within6 = (False, True)
    reading = read_sites(inputs.sites, inputs.marrow_blasts, incomplete=inputs.sites_incomplete)
    site_names = ("sites",) if inputs.marrow_blasts is not None else ("sites", "marrow_blasts")
    lineages = (Lineage.B, Lineage.T) if inputs.lineage is None else (inputs.lineage,)
    dims = (
        Dimension("lineage", ("lineage",), tuple((("lineage", v),) for v in lineages)),
        Dimension(
            "dx",
            _missing(inputs, "diagnosis_date", "relapse_date"),
            tuple((("lt18", a), ("lt36", b)) for a, b in dx_values),
        ),
        Dimension(
            "eot",
            _missing(inputs, "end_of_therapy", "relapse_date"),
            tuple((("within6", v),) for v in within6),
        ),
        Dimension("sites", site_names, tuple((("sites", v),) for v in reading.possible)),
        Dimension("mrd", ("mrd",), tuple((("mrd", v),) for v in mrd_bands(inputs.mrd))),
        Dimension(
            "genetics",
            ("genetics",),
            tuple(
                (("high_risk_genetics", hr), ("tp53", tp53))
                for hr, tp53 in _genetics_values(inputs)
            ),
        ),
        Dimension(
            "age",
            _missing(inputs, "birth_date", "diagnosis_date"),
            tuple((("age15", v),) for v in _both(None if age is None else age >= 15)),
        ),
    )
    fixed = Facts(
        lineage=Lineage.B,
        lt18=False,
        lt36=False,
        within6=False,
        sites=frozenset({Site.MARROW}),
        mrd=MrdBand.BELOW_1E4,
        high_risk_genetics=False,
        tp53=False,
        age15=False,
        later_relapse=inputs.relapse_count >= 2,
        bcr_abl1=inputs.genetics.status("BCR-ABL1"),
        prior_hsct=inputs.prior_hsct,
        refractory=inputs.refractory,
        uncovered=inputs.genetics.uncovered() if inputs.genetics.evaluated else (),
    )
    return Space(dims, fixed)


def _genetics_values(inputs: RelapseInputs) -> list[tuple[bool, bool]]:
    statuses = {m: inputs.genetics.status(m) for m in HIGH_RISK_MARKERS}

    def possible(marker_statuses: list[MarkerStatus]) -> tuple[bool, ...]:
        if MarkerStatus.PRESENT in marker_statuses:
            return (True,)
        return (False, True) if MarkerStatus.NOT_TESTED in marker_statuses else (False,)

    return [
        (hr, tp53)
        for hr, tp53 in product(possible(list(statuses.values())), possible([statuses["TP53"]]))
        if hr or not tp53
    ]


V = TypeVar("V", bound=Hashable)


def _identity(value: V) -> Hashable:
    return value


@dataclass(frozen=True, slots=True)
class Decision(Generic[V]):
    """The distinct outcomes over all worlds, and the inputs whose value changed their key."""

    outcomes: tuple[V, ...]  # distinct, in world order
    keys: tuple[Hashable, ...]  # distinct keys of the outcomes
    missing: tuple[str, ...]

    @property
    def decided(self) -> bool:
        return len(self.keys) == 1


def decide(
    space: Space,
    outcome: Callable[[Facts], V],
    reads: frozenset[str],
    key: Callable[[V], Hashable] = _identity,
) -> Decision[V]:
    """Evaluate `outcome` in every world; an input matters when changing it alone changes the
    key (in a full product, any two worlds with different keys are joined by such a step).

    `reads` names the dimensions `outcome` depends on; the others are not enumerated.
    """
    space = space.project(reads)
    results = {combo: outcome(world) for combo, world in space.worlds()}
    keyed = {combo: key(result) for combo, result in results.items()}
    outcomes = tuple(dict.fromkeys(results.values()))
    keys = tuple(dict.fromkeys(keyed.values()))
    if len(keys) == 1:
        return Decision(outcomes, keys, ())
    names: set[str] = set()
    for i, dim in enumerate(space.dims):
        if len(dim.values) < 2:
            continue
        seen: dict[tuple[int, ...], Hashable] = {}
        for combo, result_key in keyed.items():
            if seen.setdefault(combo[:i] + combo[i + 1 :], result_key) != result_key:
                names.update(dim.names)
                break
    return Decision(outcomes, keys, tuple(n for n in INPUT_NAMES if n in names))
