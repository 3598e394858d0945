"""`ORD-IDA-*` findings → CDS Hooks cards acting on the draft order (risk-schemes.md §9).

`ORD-IDA-DOSE` suggests the same MedicationRequest at 10 mg/m² (an `update` of the draft);
`ORD-IDA-COUNTS` suggests removing the draft (a `delete` of it). Every card cites its rule, the
values with their resources and dates, and CALL-0603 as risk-schemes.md §6 names it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from cds_hooks.models import Action, Card, Coding, Source, Suggestion
from mappings.fhirjson import as_dict, as_list, ref
from service.domain.evidence import CALL_0603
from service.domain.orders import Dose, Fact, Finding
from service.markdown import escape

SERVICE_ID = "reinduction-idarubicin-check"
SOURCE = Source(
    label="CALL-0603 trial, J Korean Med Sci 2017;32(4):642",
    url="https://doi.org/10.3346/jkms.2017.32.4.642",
    topic=Coding(
        code=SERVICE_ID,
        system="urn:relapse-all-cds:concept",
        display="CALL-0603 reinduction idarubicin checks",
    ),
)
OVERRIDE_REASONS = (
    Coding(
        code="record-incomplete",
        system="urn:relapse-all-cds:override-reason",
        display="The record is incomplete or out of date",
    ),
    Coding(
        code="other-protocol",
        system="urn:relapse-all-cds:override-reason",
        display="Treated on another protocol or schedule",
    ),
    Coding(
        code="clinical-judgement",
        system="urn:relapse-all-cds:override-reason",
        display="Clinical judgement differs",
    ),
)
DISCLAIMER = (
    "_Decision support, not a decision: check the values against the record and the protocol "
    "in use; the treating team decides._"
)
FINDINGS_EXTENSION = "relapse-all-cds.order-check"
SUMMARY_LIMIT = 139


def order_cards(findings: Sequence[Finding], draft: Mapping[str, Any]) -> list[Card]:
    """One card per finding about `draft` (the draft MedicationRequest as the EHR sent it)."""
    return [_card(f, draft) for f in findings]


def finding_json(finding: Finding, draft: Mapping[str, Any]) -> dict[str, Any]:
    """A finding as JSON (the card extension and `relapse-cds check-order`)."""
    return {
        "rule": finding.rule,
        "indicator": finding.indicator,
        "order": ref(draft),
        "summary": finding.summary,
        "reason": finding.reason,
        "values": [_fact_json(f) for f in finding.facts],
        "action": finding.action,
    }


def _fact_json(fact: Fact) -> dict[str, Any]:
    out: dict[str, Any] = {"label": fact.label, "value": fact.value}
    if fact.source:
        out["source"] = fact.source
    if fact.date:
        out["date"] = fact.date.isoformat()
    return out


def _card(finding: Finding, draft: Mapping[str, Any]) -> Card:
    suggestions = _suggestions(finding, draft)
    return Card(
        summary=_clip(finding.summary),
        indicator=finding.indicator,
        source=SOURCE,
        uuid=str(uuid.uuid4()),
        detail=_detail(finding),
        suggestions=suggestions,
        selection_behavior="at-most-one" if suggestions else None,
        override_reasons=OVERRIDE_REASONS,
        extension={FINDINGS_EXTENSION: finding_json(finding, draft)},
    )


def _detail(finding: Finding) -> str:
    rules = ", ".join(f"`{r}`" for r in finding.rule.split(", "))
    lines = [f"**{rules}** — {finding.reason}", ""]
    if finding.facts:
        lines += ["**Values** (with the resources they came from):", ""]
        lines += [_fact_line(f) for f in finding.facts]
        lines.append("")
    lines += [f"Source: {CALL_0603}.", "", DISCLAIMER]
    return "\n".join(lines)


def _fact_line(fact: Fact) -> str:
    # Values may quote FHIR (ids, field names of unreadable resources): escaped, never in code.
    where = [escape(fact.source)] if fact.source else []
    if fact.date:
        where.append(fact.date.isoformat())
    tail = f" — {', '.join(where)}" if where else ""
    return f"- {fact.label}: {escape(fact.value)}{tail}"


def _suggestions(finding: Finding, draft: Mapping[str, Any]) -> tuple[Suggestion, ...]:
    if finding.action == "update":
        label = "Change the order to 10 mg/m²" + _in_mg(finding)
        action = Action(
            type="update",
            description=f"{label} ({finding.rule})",
            resource=_with_doses(draft, finding.new_doses),
        )
    elif finding.action == "delete":
        label = "Remove the draft idarubicin order (withhold this dose)"
        action = Action(
            type="delete", description=f"{label} ({finding.rule})", resource_id=ref(draft)
        )
    else:
        return ()
    return (
        Suggestion(label=label, uuid=str(uuid.uuid4()), is_recommended=True, actions=(action,)),
    )


def _in_mg(finding: Finding) -> str:
    mg = [d.value for d in finding.new_doses if d.unit == "mg" and d.value is not None]
    if not mg or finding.bsa_used is None:
        return ""
    return f" ({_number(mg[0])} mg for {finding.bsa_used.quantize(Decimal('0.01'))} m²)"


def _with_doses(draft: Mapping[str, Any], doses: Sequence[Dose]) -> dict[str, Any]:
    """The same draft with its doseQuantity values replaced, in the order they were read."""
    updated: dict[str, Any] = copy.deepcopy(dict(draft))
    pending = list(doses)
    for instruction in as_list(updated.get("dosageInstruction")):
        for rate in as_list(as_dict(instruction).get("doseAndRate")):
            quantity = as_dict(rate).get("doseQuantity")
            if isinstance(quantity, dict) and pending:
                value = pending.pop(0).value
                if value is not None:
                    quantity["value"] = _number(value)
    return updated


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"
