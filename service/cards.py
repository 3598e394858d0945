"""Assessment → CDS Hooks cards: a risk card and a pathway card.

Cards support a decision; they never make one. Each shows its basis: rule ids, the inputs with the
resources they came from, and the evidence figures with their sources.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from cds_hooks.models import Action, Card, Coding, Link, Source, Suggestion
from service.domain.assessment import (
    INDETERMINATE,
    NOT_APPLICABLE,
    Assessment,
    Change,
    Plan,
)
from service.domain.changes import PLAN
from service.domain.evidence import BY_ID, response_evidence
from service.domain.orders import Value
from service.domain.response import Response
from service.domain.schemes import SCHEMES, get_scheme
from service.domain.words import (
    PATTERN_WORDS,
    TIMING_WORDS,
    addition_words,
    group_words,
    input_label,
    input_names,
    input_sources,
    input_value,
    plan_words,
    response_words,
)
from service.engine import KEY_LABELS, EngineResult
from service.markdown import escape

ASSESSMENT_EXTENSION = "relapse-all-cds.assessment"
DISCLAIMER = (
    "_Decision support, not a decision: check the inputs against the record and the protocol "
    "in use; the treating team decides._"
)
SOURCE = Source(
    label=f"Relapsed ALL risk ({', '.join(s.title for s in SCHEMES)})",
    topic=Coding(
        code="relapsed-all-risk",
        system="urn:relapse-all-cds:concept",
        display="Relapsed ALL risk stratification",
    ),
)
OVERRIDE_REASONS = (
    Coding(
        code="record-incomplete",
        system="urn:relapse-all-cds:override-reason",
        display="The record is incomplete or out of date",
    ),
    Coding(
        code="on-protocol",
        system="urn:relapse-all-cds:override-reason",
        display="Treated on a trial or protocol with its own stratification",
    ),
    Coding(
        code="clinical-judgement",
        system="urn:relapse-all-cds:override-reason",
        display="Clinical judgement differs",
    ),
)

SUMMARY_LIMIT = 139


def scheme_name(key: str) -> str:
    """A scheme's name without its explanation, e.g. "BFM", "IntReALL 2010"."""
    return full_title(key).split(" (")[0]


def full_title(key: str) -> str:
    return get_scheme(key).full_title


def build_cards(result: EngineResult, *, app_url: str | None) -> list[Card]:
    """The cards for one assessment; none when ALL never relapsed, unless a resource that could
    change that could not be read: then a card says so (never an empty answer hiding it)."""
    assessment = result.assessment
    if assessment.status != "relapsed":
        return [_unread_card(result)] if assessment.inputs.unread else []
    return [
        _risk_card(result, app_url),
        _pathway_card(assessment, app_url),
    ]


def _risk_card(result: EngineResult, app_url: str | None) -> Card:
    a = result.assessment
    # The scheme the pathway follows: the primary, or the one PATH-0 handed over to.
    primary = a.schemes[a.pathway.scheme]
    name = scheme_name(a.pathway.scheme)
    # A relapse recorded as unconfirmed or provisional counts, and says so first.
    head = "Relapsed ALL (unconfirmed)" if a.inputs.unconfirmed else "Relapsed ALL"
    if primary.group == INDETERMINATE:
        summary = f"{head}: {name} risk undetermined, needs {input_names(primary.missing)}"
    elif primary.group == NOT_APPLICABLE:
        summary = f"{head}: {name} does not apply ({primary.reason})"
    else:
        summary = f"{head}: {name} risk group {primary.group} ({primary.rule})"
    if a.pathway.primary != a.pathway.scheme:
        summary += f"; {scheme_name(a.pathway.primary)} does not apply (PATH-0)"
    unsure = primary.group == INDETERMINATE or bool(result.failures) or bool(a.warnings)
    return Card(
        summary=_clip(summary),
        indicator="warning" if unsure else "info",
        source=SOURCE,
        uuid=str(uuid.uuid4()),
        detail=_risk_detail(result),
        override_reasons=OVERRIDE_REASONS,
        links=_app_links(app_url, "view=schemes"),
        extension={ASSESSMENT_EXTENSION: a.to_json()},
    )


def _unread_card(result: EngineResult) -> Card:
    a = result.assessment
    problems = [
        f"- Could not read {KEY_LABELS.get(key) or escape(key)}: {escape(why.message)}"
        for key, why in result.failures.items()
    ] + [f"- {escape(w)}" for w in a.warnings]
    detail = "\n".join(
        [
            "No relapse of ALL could be established from the record, but "
            f"{escape(', '.join(a.inputs.unread))} could not be read and could change that. "
            "Until it is corrected, the absence of a risk card does not mean there was no relapse.",
            "",
            "**Could not be read or needs checking:**",
            "",
            *problems,
            "",
            DISCLAIMER,
        ]
    )
    return Card(
        summary="Relapsed ALL risk not assessed: part of the record could not be read",
        indicator="warning",
        source=SOURCE,
        uuid=str(uuid.uuid4()),
        detail=detail,
        extension={ASSESSMENT_EXTENSION: a.to_json()},
    )


def _pathway_card(a: Assessment, app_url: str | None) -> Card:
    plan = a.pathway.plan
    summary = f"Suggested pathway: {plan_words(plan, a.pathway.threshold)}"
    if a.pathway.plan_rules:
        summary += f" ({', '.join(a.pathway.plan_rules)})"
    suggestions = _suggestions(a)
    return Card(
        summary=_clip(summary),
        indicator="warning" if plan == Plan.INDETERMINATE else "info",
        source=SOURCE,
        uuid=str(uuid.uuid4()),
        detail=_pathway_detail(a),
        suggestions=suggestions,
        selection_behavior="any" if suggestions else None,
        override_reasons=OVERRIDE_REASONS,
        links=_app_links(app_url, "view=pathway"),
    )


def _suggestions(a: Assessment) -> tuple[Suggestion, ...]:
    patient = a.inputs.patient
    if patient is None:
        return ()
    found: list[Suggestion] = []
    if a.pathway.plan in (Plan.CHEMOTHERAPY_THEN_HSCT, Plan.RELAPSED_REFRACTORY):
        found.append(
            _service_request(
                patient,
                "Request an allogeneic HSCT consultation",
                "Allogeneic haematopoietic stem cell transplant consultation",
                f"Pathway {', '.join(a.pathway.plan_rules)}: HSCT is part of the suggested plan",
            )
        )
    if "mrd" in a.pathway.decided_by or a.pathway.plan == Plan.MRD_DIRECTED:
        found.append(
            _service_request(
                patient,
                "Order bone marrow MRD after relapse induction",
                "Bone marrow minimal residual disease after relapse induction block",
                "The post-induction MRD decides the pathway (risk-schemes §4)",
            )
        )
    return tuple(found)


def _service_request(patient: str, label: str, text: str, reason: str) -> Suggestion:
    # Text-only codes: no standard code was verified for these orders, and an invented code is
    # worse than none; the EHR maps the text to its orderable.
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {"text": text},
        "subject": {"reference": patient},
        "reasonCode": [{"text": reason}],
    }
    return Suggestion(
        label=label,
        uuid=str(uuid.uuid4()),
        actions=(Action(type="create", description=label, resource=resource),),
    )


def _app_links(app_url: str | None, view: str) -> tuple[Link, ...]:
    if app_url is None:
        return ()
    # No iss or launch here: the EHR adds them when it launches the app. The view rides in the
    # URL too, since many launchers never hand appContext back in the token response.
    return (
        Link(
            label="Open the full relapse assessment",
            url=f"{app_url}?{view}",
            type="smart",
            app_context=view,
        ),
    )


def _risk_detail(result: EngineResult) -> str:
    a = result.assessment
    primary = a.schemes[a.pathway.scheme]
    group = f"{group_words(primary.group)}** — {primary.reason} (rule `{primary.rule}`)."
    if a.pathway.primary == a.pathway.scheme:
        first = f"**Primary scheme ({full_title(a.pathway.scheme)}): {group}"
    else:
        configured = a.schemes[a.pathway.primary]
        first = (
            f"**Primary scheme ({full_title(a.pathway.primary)}): "
            f"{group_words(configured.group)}** — "
            f"{configured.reason} `PATH-0`: the pathway follows "
            f"**{full_title(a.pathway.scheme)}: {group}"
        )
    lines = [first, ""]
    lines += [
        "| Scheme | Group | Rule | Missing |",
        "|---|---|---|---|",
    ]
    for name, r in a.schemes.items():
        missing = input_names(r.missing) if r.missing else "—"
        lines.append(f"| {full_title(name)} | {group_words(r.group)} | `{r.rule}` | {missing} |")
    for name, r in a.schemes.items():
        lines.extend(f"- {full_title(name)}: {note}" for note in r.notes)
    lines += [
        "",
        f"**Timing:** BFM {TIMING_WORDS[a.timing.bfm]} (`TIME-BFM`), "
        f"COG {TIMING_WORDS[a.timing.cog]} (`TIME-COG`), "
        f"CALL-0603 {TIMING_WORDS[a.timing.call0603]} (`TIME-CALL`). "
        f"**Site:** {PATTERN_WORDS[a.site_pattern]} (`SITE-*`).",
        "",
        "**Inputs** (with the resources they came from):",
        "",
    ]
    lines += _input_lines(a)
    lines += _response_lines(a)
    if a.changes:
        lines += ["", "**What would change the answer** (each missing input alone):", ""]
        for title, sentences in change_groups(a):
            lines += [f"- {title}:", *(f"  - {s}" for s in sentences)]
    # Failure reasons and warnings quote FHIR (ids, field names, codes, Content-Type): escaped.
    problems = [
        f"- Could not read {KEY_LABELS.get(key) or escape(key)}: {escape(why.message)}"
        for key, why in result.failures.items()
    ] + [f"- {escape(w)}" for w in a.warnings]
    if problems:
        lines += ["", "**Could not be read or needs checking:**", "", *problems]
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


# The inputs the risk card lists, in its order (the app lists every input).
CARD_INPUTS: tuple[str, ...] = (
    "lineage",
    "diagnosis_date",
    "relapse_date",
    "end_of_therapy",
    "on_therapy",
    "sites",
    "marrow_blasts",
    "mrd",
    "genetics",
    "age_at_diagnosis",
    "relapse_count",
    "prior_hsct",
    "refractory",
)


def _input_lines(a: Assessment) -> list[str]:
    lines = []
    for key in CARD_INPUTS:
        value = input_value(key, a)
        # Resource ids come from FHIR: escaped, so not in code spans (escapes do not apply there).
        refs = ", ".join(escape(s) for s in input_sources(key, a))
        lines.append(f"- {input_label(key)}: {escape(value)}" + (f" — {refs}" if refs else ""))
    return lines


def _pathway_detail(a: Assessment) -> str:
    p = a.pathway
    handed = (
        f" (`PATH-0`: {scheme_name(p.primary)} does not apply)" if p.primary != p.scheme else ""
    )
    lines = [
        f"**Plan: {plan_words(p.plan, p.threshold)}** — rules "
        f"{', '.join(f'`{r}`' for r in p.rules)}, following {full_title(p.scheme)}{handed}.",
    ]
    if p.reason:
        lines += ["", p.reason]
    if p.decided_by:
        lines += ["", f"Decided by: {input_names(p.decided_by)}."]
    if p.additions:
        lines += ["", "**Additions:**", ""]
        lines += [f"- {addition_words(x)}" for x in p.additions]
    if p.evidence:
        lines += ["", "**Evidence:**", ""]
        for ev in p.evidence:
            item = BY_ID[ev]
            lines.append(f"- `{ev}`: {item.figure} ({item.source})")
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


def change_groups(a: Assessment) -> list[tuple[str, list[str]]]:
    """What would change the answer, by what it changes (the plan first), in words: "value →
    answer (rules)". Shared by the card and the app."""
    groups: dict[str, list[str]] = {}
    for c in a.changes:
        groups.setdefault(c.target, []).append(f"{c.condition} → {_change_answer(c)}")
    return [(_change_target(target, a), sentences) for target, sentences in groups.items()]


def _change_target(target: str, a: Assessment) -> str:
    if target == PLAN:
        return f"The plan ({scheme_name(a.pathway.scheme)})"
    return f"{full_title(target)}, now undetermined"


def _change_answer(c: Change) -> str:
    if c.answer == INDETERMINATE:
        text = "still undetermined" + (
            f", also needs {input_names(c.still_missing)}" if c.still_missing else ""
        )
    elif c.target == PLAN:
        text = plan_words(Plan(c.answer), c.threshold)
    else:
        text = group_words(c.answer)
    return f"{text} ({', '.join(c.rules)})" if c.rules else text


COUNTS_TITLE = "Counts for CR2 (RESP-CR2, within 3 days of the day-28 marrow)"


def _amount(value: Decimal) -> str:
    exact = value.to_integral_value() if value == value.to_integral_value() else value.normalize()
    return f"{exact:,f}"


def count_values(r: Response) -> tuple[tuple[str, str, str | None], ...]:
    """(label, value and date or "not documented", source) of each value RESP-CR2 reads; none
    before a day-28 marrow is read (no markup)."""
    if r.counts is None:
        return ()
    c = r.counts
    return tuple(
        (label, "not documented", None) if v is None else (label, _count_words(v, unit), v.source)
        for label, v, unit in (
            ("ANC", c.anc, "/µL"),
            ("Platelets", c.platelets, "/µL"),
            ("Circulating blasts", c.circulating_blasts, " %"),
        )
    )


def _count_words(v: Value, unit: str) -> str:
    return v.marked(f"{v.prefix}{_amount(v.value)}{unit} on {v.date.isoformat()}")


def count_words(r: Response) -> str | None:
    """The counts behind RESP-CR2 with their sources in one sentence (no markup)."""
    values = count_values(r)
    if not values:
        return None
    parts = [
        f"{label} {value}" + (f" ({source})" if source else "") for label, value, source in values
    ]
    return f"{COUNTS_TITLE}: {'; '.join(parts)}."


# Response text is our words around FHIR ids (several): longer than one field's limit.
_RESPONSE_LIMIT = 1200


def _response_lines(a: Assessment) -> list[str]:
    """The response to reinduction (§7); with CR, EV-CALL-3 for late relapses (TIME-CALL)."""
    r = a.response
    if r is None:
        return []
    # Day 0, the counts and the extramedullary disease cite FHIR ids: escaped.
    line = f"**Response to reinduction:** {escape(response_words(r), _RESPONSE_LIMIT)}"
    lines = ["", line]
    counts = count_words(r)
    if counts is not None:
        lines.append(f"- {escape(counts, _RESPONSE_LIMIT)}")
    lines += [f"- {escape(note, _RESPONSE_LIMIT)}" for note in r.notes]
    for ev in map(BY_ID.__getitem__, response_evidence(r, a.timing)):
        lines.append(f"- `{ev.id}`: {ev.figure} ({ev.source})")
    return lines


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"
