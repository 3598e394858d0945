"""Conditions: the leukemia, its lineage, the diagnosis date and the relapses.

fhir-contract.md, "The leukemia" and "The relapse" (patterns 1-3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from mappings.codesets import CodeSets, normalise_system
from mappings.fhirjson import as_dict, as_list, as_str, codings, full_date, has_words, ref
from service.domain.inputs import Lineage, Site
from service.domain.orders import Day0Candidate, SiteDisease, Unread, day0_after

HISTOLOGY_EXTENSION = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
)
# Lineage evidence, strongest first (contract: "first match wins").
LINEAGE_SETS: tuple[str, ...] = ("lineage_primary", "lineage_secondary", "lineage_concept")
IMMUNOPHENOTYPE_RANK = len(LINEAGE_SETS)
LINEAGES: dict[str, Lineage] = {item.value: item for item in Lineage}
EPISODE_SPAN = timedelta(days=90)
UNCONFIRMED = frozenset({"unconfirmed", "provisional"})
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


@dataclass(frozen=True, slots=True)
class LineageEvidence:
    rank: int
    lineage: Lineage
    source: str


@dataclass(frozen=True, slots=True)
class ConditionFacts:
    ref: str
    is_all: bool
    relapse_code: bool
    relapse_status: bool
    onset: date | None
    date: date | None  # onset, else recordedDate
    lineage: tuple[LineageEvidence, ...]
    markers: frozenset[str]
    sites: SiteFacts
    not_in_remission: bool
    refractory: bool
    hsct: bool
    verification: str | None = None  # condition-ver-status code
    # clinicalStatus active/recurrence/relapse and not coded "in remission": names disease now.
    involved: bool = False


@dataclass(frozen=True, slots=True)
class RelapseFacts:
    has_all: bool = False
    diagnosis_date: date | None = None
    relapsed: bool = False
    relapse_dates: tuple[date, ...] = ()
    sites: frozenset[Site] | None = None
    sites_from_text: frozenset[Site] = frozenset()
    sites_incomplete: bool = False
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()  # relapses resting on unconfirmed/provisional Conditions
    other_sites: frozenset[str] = frozenset()  # the first relapse's (SiteFacts.other)


def _all_codings(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = list(codings(resource.get("code")))
    for raw in as_list(resource.get("extension")):
        ext = as_dict(raw)
        if ext.get("url") == HISTOLOGY_EXTENSION:
            found.extend(codings(ext.get("valueCodeableConcept")))
    return found


def is_relevant(resource: Mapping[str, Any], codes: CodeSets) -> bool:
    """Whether the mapping reads this Condition at all (others are not validated)."""
    cs = _all_codings(resource)
    names = (
        "all_condition",
        *LINEAGE_SETS,
        "refractory",
        "hsct_condition",
        "not_in_remission",
    )
    return any(codes.match(n, cs) is not None for n in names)


def lineage_of(
    cs: Sequence[Mapping[str, Any]], codes: CodeSets, source: str
) -> list[LineageEvidence]:
    # Every coding counts, not the first: codes that disagree are a conflict (best_lineage), as
    # across Conditions, whatever order the EHR wrote them in.
    return [
        LineageEvidence(rank, lineage, source)
        for rank, name in enumerate(LINEAGE_SETS)
        for lineage in dict.fromkeys(LINEAGES.get(e.value or "") for e in codes.matches(name, cs))
        if lineage is not None
    ]


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """The relapse sites a Condition names.

    `from_text`: sites read from bodySite text (the card marks them); `incomplete`: a bodySite
    was written that names no known site, so the set may lack a site.
    """

    sites: frozenset[Site] | None
    from_text: frozenset[Site] = frozenset()
    incomplete: bool = False
    warnings: tuple[str, ...] = ()
    # What names each "other" site, to tell two of them apart: `system|code` of its codings,
    # else `text:` and its words.
    other: frozenset[str] = frozenset()


def site_text(text: str, codes: CodeSets) -> tuple[frozenset[Site], bool]:
    """(sites named, negated) for a bodySite text: whole words, case-insensitive."""
    lowered = text.lower()
    named = frozenset(
        Site(site) for phrase, site in codes.site_synonyms if has_words(lowered, phrase)
    )
    negated = any(has_words(lowered, word) for word in codes.site_negations)
    return named, negated


def _sites(resource: Mapping[str, Any], codes: CodeSets) -> SiteFacts:
    r = ref(resource)
    coded: set[Site] = set()
    from_text: set[Site] = set()
    incomplete = False
    warnings: list[str] = []
    other: set[str] = set()
    systems = {system for system, _ in codes.sets.get("body_site", {})}
    for raw in as_list(resource.get("bodySite")):
        concept = as_dict(raw)
        cs = list(codings(concept))
        entry = codes.match("body_site", cs)
        coded_as = Site(entry.value) if entry is not None and entry.value else None
        if coded_as is None and any(
            normalise_system(as_str(c.get("system")) or "") in systems for c in cs
        ):
            # Any other site coded in the site code system is extramedullary "other" (contract).
            coded_as = Site.OTHER
        if coded_as is not None:
            coded.add(coded_as)
            if coded_as is Site.OTHER:
                other |= _coding_keys(cs)
            continue
        # Text only, or a code of a system the site set does not hold (an EHR's local codes,
        # whose meaning is unknown): read the words, never guess "other".
        texts = [as_str(concept.get("text")) or ""]
        texts += [as_str(c.get("display")) or "" for c in codings(concept)]
        text = " ".join(t for t in texts if t.strip())
        if not text and not cs:
            continue
        named, negated = site_text(text, codes)
        if negated:
            # "no CNS involvement" names no site; a negation beside several sites cannot be
            # placed, so one of them may be involved.
            if len(named) > 1:
                incomplete = True
                warnings.append(
                    f"{r}: a bodySite text negates one of several sites; which is involved "
                    "cannot be read (site unknown)"
                )
            continue
        if not named:
            incomplete = True
            warnings.append(f"{r}: a bodySite names no known site (site unknown)")
            continue
        from_text |= named
        if Site.OTHER in named:
            other.add("text:" + " ".join(text.lower().split()))
    sites = coded | from_text
    return SiteFacts(
        frozenset(sites) if sites else None,
        frozenset(from_text - coded),
        incomplete,
        tuple(warnings),
        frozenset(other),
    )


def _coding_keys(cs: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(
        f"{normalise_system(system)}|{code}"
        for c in cs
        if (system := as_str(c.get("system"))) and (code := as_str(c.get("code")))
    )


def read_condition(resource: Mapping[str, Any], codes: CodeSets) -> ConditionFacts:
    r = ref(resource)
    cs = _all_codings(resource)
    code_only = list(codings(resource.get("code")))
    status = list(codings(resource.get("clinicalStatus")))
    onset = full_date(resource.get("onsetDateTime")) or full_date(
        as_dict(resource.get("onsetPeriod")).get("start")
    )
    markers = frozenset(
        e.value
        for c in cs
        if (e := codes.entry("implied_marker", as_str(c.get("system")), as_str(c.get("code"))))
        and e.value
    )
    return ConditionFacts(
        ref=r,
        is_all=codes.match("all_condition", cs) is not None,
        relapse_code=codes.match("relapse_condition", code_only) is not None,
        relapse_status=codes.match("relapse_status", status) is not None,
        onset=onset,
        date=onset or full_date(resource.get("recordedDate")),
        lineage=tuple(lineage_of(cs, codes, r)),
        markers=markers,
        sites=_sites(resource, codes),
        not_in_remission=codes.match("not_in_remission", code_only) is not None,
        refractory=codes.match("refractory", code_only) is not None,
        hsct=codes.match("hsct_condition", code_only) is not None,
        involved=codes.match("involved_status", status) is not None
        and codes.match("in_remission", code_only) is None,
        verification=next(
            (
                as_str(c.get("code"))
                for c in codings(resource.get("verificationStatus"))
                if normalise_system(as_str(c.get("system")) or "") == VERIFICATION_SYSTEM
            ),
            None,
        ),
    )


def _disease_sites(c: ConditionFacts) -> frozenset[Site]:
    """The extramedullary sites a Condition of the leukaemia names as involved (marrow is left
    to the blasts; a differential diagnosis does not count, as for the relapse)."""
    if not c.is_all or not c.involved or c.verification == "differential":
        return frozenset()
    return (c.sites.sites or frozenset()) - {Site.MARROW}


def _disease_date(c: ConditionFacts) -> date | None:
    # Dated as the relapse mapping dates it: a relapse Condition by its onset, any other by
    # onset, else recordedDate (fhir-contract.md, "Extramedullary disease at day 28").
    return c.onset if c.relapse_code or c.relapse_status else c.date


def site_disease(c: ConditionFacts) -> SiteDisease | None:
    """The extramedullary disease a dated Condition documents, for the day-28 window."""
    sites, when = _disease_sites(c), _disease_date(c)
    if when is None or not sites:
        return None
    confirmed = c.verification not in UNCONFIRMED
    return SiteDisease(sites, when, c.ref, confirmed, c.sites.other)


def undated_disease(c: ConditionFacts) -> Unread | None:
    """Extramedullary disease a Condition documents with no date to place it: it could be
    disease at day 28, so it is kept as a value not read, as an undated marrow is."""
    if _disease_date(c) is not None or not _disease_sites(c):
        return None
    return Unread("site_disease", None, c.ref)


def _episodes(
    relapses: Sequence[ConditionFacts], day0_candidates: Sequence[Day0Candidate]
) -> list[list[ConditionFacts]]:
    """Relapse Conditions grouped into relapses: those within 90 days of the first of an episode
    and before its reinduction day 0 (when known) are one relapse (contract, "Episodes")."""
    episodes: list[list[ConditionFacts]] = []
    for c in sorted(relapses, key=lambda c: (c.onset or date.min, c.ref)):
        if episodes and c.onset is not None:
            first = episodes[-1][0].onset or date.min
            found = day0_after(day0_candidates, first)
            day0 = found.date if found is not None else None
            # Conditions of the first day are one relapse even when reinduction began that day.
            if c.onset - first <= EPISODE_SPAN and (
                day0 is None or c.onset < day0 or c.onset == first
            ):
                episodes[-1].append(c)
                continue
        episodes.append([c])
    return episodes


def _unconfirmed(
    episodes: Sequence[Sequence[ConditionFacts]], warnings: list[str]
) -> tuple[str, ...]:
    """The Conditions of relapses resting only on unconfirmed or provisional ones (they count,
    flagged)."""
    found = tuple(
        c.ref for e in episodes if all(c.verification in UNCONFIRMED for c in e) for c in e
    )
    if found:
        warnings.append(f"relapse not confirmed (verification status): {', '.join(found)}")
    return found


def relapse_facts(
    conditions: Iterable[ConditionFacts], day0_candidates: Sequence[Day0Candidate] = ()
) -> RelapseFacts:
    """Diagnosis date, relapses and sites from the ALL Conditions (contract patterns 1-3)."""
    alls = [c for c in conditions if c.is_all]
    if not alls:
        return RelapseFacts()
    warnings: list[str] = []
    sources: dict[str, tuple[str, ...]] = {}
    flagged = [c for c in alls if c.relapse_code or c.relapse_status]
    candidates = [c for c in flagged if c.verification != "differential"]
    warnings.extend(
        f"{c.ref} is a differential diagnosis of relapse: not counted"
        for c in flagged
        if c.verification == "differential"
    )
    base = [c for c in alls if not (c.relapse_code or c.relapse_status)]
    dated_base = [c for c in base if c.date is not None]
    diagnosis_refs: list[ConditionFacts] = []
    diagnosis: date | None
    if dated_base:
        diagnosis = min(c.date for c in dated_base if c.date is not None)
        diagnosis_refs = [c for c in dated_base if c.date == diagnosis]
    else:
        # Pattern 2: the diagnosis Condition itself carries the relapse status.
        own = [c for c in candidates if not c.relapse_code and c.date is not None]
        diagnosis = min((c.date for c in own if c.date is not None), default=None)
        diagnosis_refs = [c for c in own if c.date == diagnosis]
    if diagnosis is None:
        warnings.append(
            "no dated diagnosis Condition of ALL: the diagnosis date is unknown "
            f"({', '.join(c.ref for c in alls)})"
        )
    else:
        sources["diagnosis_date"] = tuple(c.ref for c in diagnosis_refs)

    used = {c.ref for c in diagnosis_refs}
    relapses = [
        c
        for c in candidates
        if c.ref not in used and c.onset is not None and (diagnosis is None or c.onset > diagnosis)
    ]
    for c in candidates:
        if (
            c.relapse_code
            and c.onset is not None
            and diagnosis is not None
            and c.onset <= diagnosis
        ):
            warnings.append(
                f"{c.ref} records a relapse on or before the diagnosis date: its onset is not "
                "read as a relapse date"
            )
    if not candidates:
        return RelapseFacts(True, diagnosis, sources=sources, warnings=tuple(warnings))
    if not relapses:
        warnings.append(
            "a relapse is recorded without a relapse date "
            f"({', '.join(c.ref for c in candidates)}): add a dated relapse Condition "
            "(onset of the relapse) to assess timing"
        )
        sources["relapsed"] = tuple(c.ref for c in candidates)
        undated = _unconfirmed([candidates], warnings)
        return RelapseFacts(
            True, diagnosis, True, sources=sources, warnings=tuple(warnings), unconfirmed=undated
        )

    episodes = _episodes(relapses, day0_candidates)
    for episode in episodes:
        if len({c.onset for c in episode}) > 1:
            warnings.append(
                f"{', '.join(c.ref for c in episode)}: relapse Conditions within 90 days of the "
                "first (before reinduction), merged into one relapse (sites united)"
            )
    unconfirmed = _unconfirmed(episodes, warnings)
    dates = tuple(e[0].onset for e in episodes if e[0].onset is not None)
    first = episodes[0]
    site_sets = [c.sites.sites for c in first if c.sites.sites is not None]
    sites = frozenset().union(*site_sets) if site_sets else None
    # A site counts as read from text only when no Condition codes it.
    coded = frozenset().union(*((c.sites.sites or frozenset()) - c.sites.from_text for c in first))
    from_text = frozenset().union(*(c.sites.from_text for c in first)) - coded
    incomplete = any(c.sites.incomplete for c in first)
    other = frozenset().union(*(c.sites.other for c in first))
    for c in first:
        warnings.extend(c.sites.warnings)
    sources["relapsed"] = tuple(c.ref for c in relapses)
    sources["relapse_date"] = tuple(c.ref for c in first if c.onset == dates[0])
    sources["relapse_dates"] = tuple(c.ref for e in episodes for c in e)
    sources["relapse_count"] = sources["relapse_dates"]
    if sites is not None:
        sources["sites"] = tuple(c.ref for c in first if c.sites.sites is not None)
    elif not incomplete:
        warnings.append(f"no relapse site recorded on {', '.join(c.ref for c in first)}")
    return RelapseFacts(
        True,
        diagnosis,
        True,
        dates,
        sites,
        from_text,
        incomplete,
        sources,
        tuple(warnings),
        unconfirmed,
        other,
    )


def best_lineage(
    evidence: Iterable[LineageEvidence],
) -> tuple[Lineage | None, tuple[str, ...], tuple[str, ...]]:
    """Lineage, its sources and warnings: the strongest kind of evidence wins."""
    items = list(evidence)
    if not items:
        return None, (), ("lineage unknown: no coded lineage (ICD-O-3, SNOMED or immunophenotype)",)
    top = min(e.rank for e in items)
    best = [e for e in items if e.rank == top]
    kinds = {e.lineage for e in best}
    refs = tuple(dict.fromkeys(e.source for e in best))
    if len(kinds) > 1:
        return None, refs, (f"lineage unknown: conflicting coded lineages in {', '.join(refs)}",)
    return best[0].lineage, refs, ()
