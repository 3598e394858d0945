"""Relapse risk inputs (risk-schemes.md §1), each with the FHIR resources it came from.

The mapping layer builds a `RelapseInputs`; the domain only reads it. `None` always means
"not documented / unknown" and is never read as a negative finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from service.domain.orders import Day0Candidate, SiteDisease, Unread
from service.domain.thresholds import Comparator


class Lineage(StrEnum):
    B = "B"
    T = "T"
    MPAL = "MPAL"


class Site(StrEnum):
    MARROW = "marrow"
    CNS = "cns"
    TESTIS = "testis"
    OTHER = "other"


class MarkerStatus(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    NOT_TESTED = "not_tested"


# Marker names (risk-schemes.md §5). High-risk markers score in InPOG-ALL-R1; the others are shown.
HIGH_RISK_MARKERS: tuple[str, ...] = (
    "BCR-ABL1",
    "ABL-class",
    "KMT2A",
    "iAMP21",
    "TCF3",
    "hypodiploidy",
    "TP53",
)
PROGNOSTIC_MARKERS: tuple[str, ...] = ("IKZF1", "PAX5", "NR3C1", "NRAS", "CREBBP", "NT5C2")
FAVOURABLE_MARKERS: tuple[str, ...] = ("high_hyperdiploidy", "ETV6-RUNX1")
ALL_MARKERS: tuple[str, ...] = HIGH_RISK_MARKERS + PROGNOSTIC_MARKERS + FAVOURABLE_MARKERS


@dataclass(frozen=True, slots=True)
class Mrd:
    """A minimal residual disease result as a fraction (1e-4 = 0.01 %), comparator kept."""

    value: float
    comparator: Comparator
    date: date | None
    source: str | None = None  # "Observation/id"
    preliminary: bool = False  # status preliminary: counts, marked so on the card


@dataclass(frozen=True, slots=True)
class Genetics:
    """Genetic markers of the leukaemia (risk-schemes.md §5, fhir-contract.md Observations).

    `evaluated` is True when the record holds a karyotype or a genomics result; then a marker not
    reported present is ABSENT. `explicit` names the markers some result covered explicitly.
    """

    evaluated: bool = False
    markers: Mapping[str, MarkerStatus] = field(default_factory=dict)
    explicit: frozenset[str] = frozenset()

    def status(self, marker: str) -> MarkerStatus:
        if marker in self.markers:
            return self.markers[marker]
        return MarkerStatus.ABSENT if self.evaluated else MarkerStatus.NOT_TESTED

    def present(self, markers: tuple[str, ...] = ALL_MARKERS) -> tuple[str, ...]:
        return tuple(m for m in markers if self.status(m) is MarkerStatus.PRESENT)

    def uncovered(self) -> tuple[str, ...]:
        """The high-risk markers no result covered explicitly and none showed present
        (fhir-contract.md: a G-band karyotype cannot show TP53, ABL-class or iAMP21)."""
        return tuple(
            m
            for m in HIGH_RISK_MARKERS
            if m not in self.explicit and self.status(m) is not MarkerStatus.PRESENT
        )


@dataclass(frozen=True, slots=True)
class RelapseInputs:
    """Everything the schemes and the pathway read, as mapped from one patient's record.

    `sources` maps an input name (the field name) to the `Type/id` references it came from.
    `warnings` are human-readable and never contain identifiers beyond `Type/id` references.
    """

    patient: str | None = None  # "Patient/123"
    has_all: bool = False  # an ALL Condition was found
    relapsed: bool = False  # a relapse is documented (contract patterns 1 or 2)
    lineage: Lineage | None = None
    birth_date: date | None = None
    sex: str | None = None
    diagnosis_date: date | None = None
    relapse_date: date | None = None  # the first relapse; None when relapsed but undated
    relapse_dates: tuple[date, ...] = ()  # every dated relapse, ascending (timeline)
    relapse_count: int = 0
    end_of_therapy: date | None = None
    on_therapy: bool | None = None  # True: frontline CarePlan active at the relapse date
    sites: frozenset[Site] | None = None  # None: no site documented
    sites_from_text: frozenset[Site] = frozenset()  # read from bodySite text, not codes
    sites_incomplete: bool = False  # a site was written that names no known site
    # The relapse's "other" extramedullary sites as written (`system|code`, else `text:` and the
    # words): day-28 disease at "other" is at a relapse site only when one of them matches.
    other_sites: frozenset[str] = frozenset()
    marrow_blasts: float | None = None  # percent at relapse
    mrd: Mrd | None = None  # post-induction MRD after the first relapse
    mrd_series: tuple[Mrd, ...] = ()  # every MRD result, ascending by date (timeline)
    genetics: Genetics = field(default_factory=Genetics)
    prior_hsct: bool = False  # counts only when documented (risk-schemes.md §3)
    hsct_dates: tuple[date, ...] = ()
    refractory: bool = False
    refractory_latest: date | None = None  # latest date of that evidence; None: some undated
    # Resources that could change the answer but could not be read (named on a card, always).
    unread: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()  # relapse Conditions unconfirmed/provisional (flagged)
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Preliminary Observations an input was read from (`Type/id`, among `sources`): they count,
    # marked so. A preliminary MRD is marked by `Mrd.preliminary` instead.
    preliminary: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()
    ignored: int = 0  # resources of the record that no input reads (not validated)
    # What could date reinduction day 0 (read once: the order checks and the response use it).
    day0_candidates: tuple[Day0Candidate, ...] = ()
    # Conditions naming extramedullary sites as involved, any date (the response picks day 28).
    site_disease: tuple[SiteDisease, ...] = ()
    unread_disease: tuple[Unread, ...] = ()  # unreadable ones that could be such a Condition
