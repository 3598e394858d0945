"""Site pattern (risk-schemes.md §2.2): SITE-IM, SITE-C, SITE-IEM, refined by marrow blasts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from service.domain.inputs import Site

ISOLATED_MARROW = "isolated_marrow"
COMBINED = "combined"
ISOLATED_EXTRAMEDULLARY = "isolated_extramedullary"
INDETERMINATE = "indeterminate"

EXTRAMEDULLARY: tuple[Site, ...] = (Site.CNS, Site.TESTIS, Site.OTHER)
_EM_SUBSETS: tuple[frozenset[Site], ...] = tuple(
    frozenset(c) for n in range(len(EXTRAMEDULLARY) + 1) for c in combinations(EXTRAMEDULLARY, n)
)

# The sites in the words a clinician reads (the one table of them: words.py and the response's
# notes use it, and the response is below words.py).
SITE_WORDS: dict[Site, str] = {
    Site.MARROW: "bone marrow",
    Site.CNS: "CNS",
    Site.TESTIS: "testis",
    Site.OTHER: "other extramedullary site",
}


def site_list(found: Iterable[Site]) -> str:
    """Sites in words, in the order of `Site`."""
    chosen = set(found)
    return ", ".join(SITE_WORDS[s] for s in Site if s in chosen)


def blast_grade(blasts: float | None) -> str | None:
    """M1 < 5 %, M2 5–25 % inclusive, M3 > 25 % (CALL-0603)."""
    if blasts is None:
        return None
    if blasts < 5:
        return "M1"
    return "M2" if blasts <= 25 else "M3"


def pattern_of(sites: frozenset[Site]) -> str:
    """The pattern of a fully known, non-empty site set."""
    marrow = Site.MARROW in sites
    if not marrow:
        return ISOLATED_EXTRAMEDULLARY
    return COMBINED if sites - {Site.MARROW} else ISOLATED_MARROW


@dataclass(frozen=True, slots=True)
class SiteReading:
    """What the record says about the relapse sites.

    `possible` holds every complete site set consistent with the record (one when known).
    """

    pattern: str
    possible: tuple[frozenset[Site], ...]
    warnings: tuple[str, ...] = ()


def read_sites(
    sites: frozenset[Site] | None, blasts: float | None, *, incomplete: bool = False
) -> SiteReading:
    """The site pattern; `incomplete`: a written site was not read, so any site may be added."""
    reading = _read_known(sites, blasts)
    if not incomplete or not sites:
        # With no site read, every site set is already possible.
        return reading
    possible = tuple(dict.fromkeys(s | {extra} for s in reading.possible for extra in Site))
    patterns = {pattern_of(s) for s in possible}
    pattern = patterns.pop() if len(patterns) == 1 else INDETERMINATE
    return SiteReading(pattern, possible, reading.warnings)


def _read_known(sites: frozenset[Site] | None, blasts: float | None) -> SiteReading:
    grade = blast_grade(blasts)
    coded = sites or frozenset()
    em = coded - {Site.MARROW}
    if Site.MARROW in coded:
        # A coded marrow site wins over a blast count that disagrees.
        warnings: tuple[str, ...] = ()
        if grade == "M1" or (grade == "M2" and not em):
            warnings = (
                f"Marrow is coded as a relapse site but marrow blasts are {grade}; "
                "the coded site is used.",
            )
        return SiteReading(pattern_of(coded), (coded,), warnings)
    if em:
        # Extramedullary sites are coded: the set is complete, blasts decide the marrow.
        marrow = grade in ("M2", "M3")
        known = em | {Site.MARROW} if marrow else em
        return SiteReading(pattern_of(known), (known,))
    # No site documented: extramedullary involvement is unknown, never read as absent.
    if grade == "M1":
        return SiteReading(ISOLATED_EXTRAMEDULLARY, tuple(s for s in _EM_SUBSETS if s))
    with_marrow = tuple(s | {Site.MARROW} for s in _EM_SUBSETS)
    if grade in ("M2", "M3"):
        # M3 is a marrow relapse; M2 alone needs confirmation, and with any extramedullary
        # site it is combined, so every remaining possibility involves the marrow.
        return SiteReading(INDETERMINATE, with_marrow)
    return SiteReading(INDETERMINATE, with_marrow + tuple(s for s in _EM_SUBSETS if s))
