"""What the page shows, computed from the assessment so the templates stay simple."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks.errors import PrefetchFailure
from cds_hooks.models import is_fhir_id
from service.cards import (
    COUNTS_TITLE,
    change_groups,
    count_values,
    scheme_name,
)
from service.domain.assessment import Assessment
from service.domain.evidence import BY_ID, response_evidence
from service.domain.schemes import get_scheme
from service.domain.words import (
    INPUT_WORDS,
    PATTERN_WORDS,
    TIMING_WORDS,
    addition_words,
    group_words,
    input_names,
    input_sources,
    input_value,
    plan_words,
    response_words,
)
from service.engine import RESOURCE_TYPES
from service.smart.timeline import Timeline, build_timeline

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("timeline", "Timeline"),
    ("schemes", "Risk schemes"),
    ("changes", "What would change the answer"),
    ("pathway", "Pathway"),
    ("evidence", "Evidence"),
    ("inputs", "Inputs"),
    ("warnings", "Warnings"),
)
SECTION_IDS = frozenset(s for s, _ in SECTIONS)


@dataclass(frozen=True)
class SourceRef:
    ref: str  # "Type/id" as the mapping recorded it
    rtype: str | None  # set when the app can show the resource
    rid: str | None


@dataclass(frozen=True)
class InputRow:
    name: str
    label: str
    value: str
    sources: tuple[SourceRef, ...]


@dataclass(frozen=True)
class CountRow:
    label: str
    value: str  # with its date, or "not documented"
    source: SourceRef | None


@dataclass(frozen=True)
class EvidenceRow:
    id: str
    figure: str
    source: str


@dataclass(frozen=True)
class SchemeRow:
    key: str
    title: str
    group: str  # the code, for the page's style only
    group_text: str
    rule: str
    timing: str
    missing: str  # the inputs in words; empty when none is missing
    reason: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    patient_name: str
    patient_details: str
    status: str
    schemes: tuple[SchemeRow, ...]
    site_pattern: str
    inputs: tuple[InputRow, ...]
    timeline: Timeline
    plan_text: str
    scheme_name: str  # the scheme the pathway follows
    scheme_text: str  # which scheme is followed, and why when PATH-0 handed over
    response_text: str | None  # the response to reinduction (§7), when one is read
    response_counts: tuple[CountRow, ...]  # the values behind RESP-CR2, once day 28 is read
    response_counts_title: str
    response_notes: tuple[str, ...]
    response_evidence: tuple[EvidenceRow, ...]  # shown with the response (§7: EV-CALL-3)
    additions: tuple[str, ...]
    decided_by: str  # the inputs that would decide the plan, in words
    evidence: tuple[EvidenceRow, ...]
    pathway: Any  # service.domain.assessment.Pathway
    changes: tuple[tuple[str, tuple[str, ...]], ...]  # (what changes, its sentences)
    warnings: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]  # (what, why)


def patient_name(patient: Mapping[str, Any]) -> str:
    """The display name of a FHIR Patient; for the page only, never for logs."""
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    official = [n for n in names if n.get("use") == "official"] or names
    if not official:
        return "Unnamed patient"
    name = official[0]
    if isinstance(name.get("text"), str) and name["text"].strip():
        return str(name["text"]).strip()
    given = " ".join(str(g) for g in name.get("given") or [])
    return " ".join(p for p in (given, str(name.get("family") or "")) if p) or "Unnamed patient"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _scheme_text(assessment: Assessment) -> str:
    p = assessment.pathway
    if p.primary == p.scheme:
        return f"Following the primary scheme {scheme_name(p.scheme)}"
    return (
        f"Following {scheme_name(p.scheme)}: the primary scheme, {scheme_name(p.primary)}, "
        "does not apply (PATH-0)"
    )


def _source(ref: str) -> SourceRef:
    rtype, _, rid = ref.partition("/")
    if rtype in RESOURCE_TYPES and is_fhir_id(rid):
        return SourceRef(ref, rtype, rid)
    return SourceRef(ref, None, None)


def build_page(
    assessment: Assessment,
    patient: Mapping[str, Any],
    failures: Mapping[str, PrefetchFailure],
    failure_labels: Mapping[str, str],
) -> Page:
    data = assessment.to_json()
    timing = data["timing"]
    response = assessment.response
    schemes = tuple(
        SchemeRow(
            key=key,
            title=get_scheme(key).full_title,
            group=r.group,
            group_text=group_words(r.group),
            rule=r.rule,
            timing=TIMING_WORDS[timing[get_scheme(key).timing]],
            missing=input_names(r.missing),
            reason=r.reason,
            notes=r.notes,
        )
        for key, r in assessment.schemes.items()
    )
    inputs = tuple(
        InputRow(
            name,
            label,
            input_value(name, assessment),
            tuple(_source(ref) for ref in input_sources(name, assessment)),
        )
        for name, label in INPUT_WORDS.items()
    )
    details = ", ".join(
        p
        for p in (
            f"born {patient['birthDate']}" if isinstance(patient.get("birthDate"), str) else "",
            str(patient["gender"]) if isinstance(patient.get("gender"), str) else "",
        )
        if p
    )
    return Page(
        patient_name=patient_name(patient),
        patient_details=details,
        status=assessment.status,
        schemes=schemes,
        site_pattern=PATTERN_WORDS[assessment.site_pattern],
        inputs=inputs,
        timeline=build_timeline(assessment.inputs, assessment.response),
        plan_text=_sentence(plan_words(assessment.pathway.plan, assessment.pathway.threshold)),
        scheme_name=scheme_name(assessment.pathway.scheme),
        scheme_text=_scheme_text(assessment),
        response_text=None if response is None else response_words(response),
        response_counts=()
        if response is None
        else tuple(
            CountRow(label, value, None if source is None else _source(source))
            for label, value, source in count_values(response)
        ),
        response_counts_title=COUNTS_TITLE,
        response_notes=() if response is None else response.notes,
        response_evidence=_evidence_rows(response_evidence(response, assessment.timing)),
        additions=tuple(_sentence(addition_words(a)) for a in assessment.pathway.additions),
        decided_by=input_names(assessment.pathway.decided_by),
        evidence=_evidence_rows(assessment.pathway.evidence),
        pathway=assessment.pathway,
        changes=tuple((title, tuple(lines)) for title, lines in change_groups(assessment)),
        warnings=assessment.warnings,
        failures=tuple(
            (failure_labels.get(k, k), why.message) for k, why in sorted(failures.items())
        ),
    )


def _evidence_rows(ids: tuple[str, ...]) -> tuple[EvidenceRow, ...]:
    return tuple(EvidenceRow(ev, BY_ID[ev].figure, BY_ID[ev].source) for ev in ids)


def view_from_app_context(app_context: str | None) -> str | None:
    """The section an `appContext` such as "view=pathway" asks to open, if it names one."""
    for part in (app_context or "").replace(";", "&").split("&"):
        key, _, value = part.strip().partition("=")
        candidate = value if value else key
        if (key == "view" or not value) and candidate in SECTION_IDS:
            return candidate
    return None


def opening_view(app_context: str | None, launch_view: str | None) -> str:
    """The section to open after sign-in.

    The token's `appContext` first; else the `view` query parameter the card's link carried to
    `/app/launch` (many launchers never return `appContext`); else the summary.
    """
    if found := view_from_app_context(app_context):
        return found
    return launch_view if launch_view in SECTION_IDS else "summary"
