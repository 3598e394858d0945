"""The assessment: what the domain decided, and why (fhir-contract.md, "The assessment").

`Assessment.to_json()` is the contract's JSON, shared by the command line, the card extension and
the SMART app. Keys beyond the contract's example are additions the contract allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from service.domain.inputs import HIGH_RISK_MARKERS, MarkerStatus, RelapseInputs
from service.domain.response import Response

INDETERMINATE = "indeterminate"
NOT_APPLICABLE = "not_applicable"


class Plan(StrEnum):
    """`pathway.plan` (fhir-contract.md, "The assessment"; risk-schemes.md §4)."""

    CHEMOTHERAPY = "chemotherapy"
    MRD_DIRECTED = "mrd_directed"
    CHEMOTHERAPY_THEN_HSCT = "chemotherapy_then_hsct"
    RELAPSED_REFRACTORY = "relapsed_refractory"
    INDETERMINATE = "indeterminate"


class Addition(StrEnum):
    """`pathway.additions` (risk-schemes.md §4, PATH-5…PATH-9), in the order they are listed."""

    BLINATUMOMAB = "blinatumomab"
    HSCT_REGARDLESS_OF_MRD = "hsct_regardless_of_mrd"
    CRANIAL_IRRADIATION = "cranial_irradiation"
    TESTICULAR_LOCAL_THERAPY = "testicular_local_therapy"
    T_LINEAGE_AGENTS = "t_lineage_agents"
    SUPPORTIVE_CARE = "supportive_care"


@dataclass(frozen=True, slots=True)
class Timing:
    bfm: str  # very_early / early / late / indeterminate
    cog: str  # early / late / indeterminate
    call0603: str  # early / late / indeterminate


@dataclass(frozen=True, slots=True)
class SchemeResult:
    group: str  # a group name of risk-schemes.md §3, INDETERMINATE or NOT_APPLICABLE
    rule: str  # e.g. "BFM-B"
    missing: tuple[str, ...] = ()  # input names that would decide an indeterminate group
    reason: str = ""  # one sentence a clinician can check against the table
    notes: tuple[str, ...] = ()  # e.g. the ALLR3 secondary-table difference


@dataclass(frozen=True, slots=True)
class Pathway:
    scheme: str  # the scheme followed: the primary, or the one PATH-0 handed over to
    primary: str  # the configured primary scheme
    plan: Plan
    additions: tuple[Addition, ...]
    rules: tuple[str, ...]
    reason: str = ""
    decided_by: tuple[str, ...] = ()  # inputs whose result would decide the plan
    evidence: tuple[str, ...] = ()  # EV-* ids
    threshold: float | None = None  # the post-induction MRD threshold of an mrd_directed plan
    plan_rules: tuple[str, ...] = ()  # the rules that chose the plan (a subset of `rules`)


@dataclass(frozen=True, slots=True)
class Change:
    """What would change the answer: `inputs` (missing) taking the value `condition` would give
    `target` (a scheme key, or "plan") the `answer` (a group or a plan) by `rules`; the answer is
    still undecided when `still_missing` names inputs."""

    target: str
    inputs: tuple[str, ...]
    condition: str
    answer: str
    rules: tuple[str, ...]
    still_missing: tuple[str, ...] = ()
    threshold: float | None = None  # the MRD threshold of an mrd_directed plan


@dataclass(frozen=True, slots=True)
class Assessment:
    as_of: date
    inputs: RelapseInputs
    status: str  # "relapsed" / "no_relapse" / "no_all"
    timing: Timing
    site_pattern: str
    age_at_diagnosis: int | None
    schemes: dict[str, SchemeResult]  # keyed and ordered as service.domain.schemes.SCHEMES
    pathway: Pathway
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    response: Response | None = None  # when a reinduction of a first relapse is documented

    def to_json(self) -> dict[str, Any]:
        i = self.inputs
        mrd = (
            None
            if i.mrd is None
            else {
                "value": i.mrd.value,
                "comparator": i.mrd.comparator.value,
                "date": _iso(i.mrd.date),
                "preliminary": i.mrd.preliminary,
            }
        )
        genetics: dict[str, Any] = {
            "status": "evaluated" if i.genetics.evaluated else "not_tested",
            "high_risk": list(i.genetics.present(HIGH_RISK_MARKERS)),
            "present": list(i.genetics.present()),
        }
        if i.genetics.evaluated:
            genetics["not_covered"] = list(i.genetics.uncovered())
            # Markers a result could not be read for: never absent, whatever else was tested.
            genetics["unknown"] = [
                m for m in HIGH_RISK_MARKERS if i.genetics.status(m) is MarkerStatus.NOT_TESTED
            ]
        found: dict[str, Any] = {
            "patient": i.patient,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "inputs": {
                "lineage": i.lineage.value if i.lineage else None,
                "diagnosis_date": _iso(i.diagnosis_date),
                "relapse_date": _iso(i.relapse_date),
                "end_of_therapy": _iso(i.end_of_therapy),
                "on_therapy": i.on_therapy,
                "sites": None if i.sites is None else sorted(s.value for s in i.sites),
                "sites_from_text": sorted(s.value for s in i.sites_from_text),
                "sites_incomplete": i.sites_incomplete,
                "unread": list(i.unread),
                "unconfirmed": list(i.unconfirmed),
                "marrow_blasts": i.marrow_blasts,
                "mrd": mrd,
                "genetics": genetics,
                "birth_date": _iso(i.birth_date),
                "sex": i.sex,
                "age_at_diagnosis": self.age_at_diagnosis,
                "relapse_count": i.relapse_count,
                "relapse_dates": [d.isoformat() for d in i.relapse_dates],
                "prior_hsct": i.prior_hsct,
                "hsct_dates": [d.isoformat() for d in i.hsct_dates],
                "refractory": i.refractory,
                "mrd_series": [
                    {
                        "value": m.value,
                        "comparator": m.comparator.value,
                        "date": _iso(m.date),
                        "source": m.source,
                    }
                    for m in i.mrd_series
                ],
            },
            "sources": {k: list(v) for k, v in i.sources.items()},
            "preliminary": sorted(
                i.preliminary | (self.response.preliminary if self.response else frozenset())
            ),
            "timing": {
                "bfm": self.timing.bfm,
                "cog": self.timing.cog,
                "call0603": self.timing.call0603,
            },
            "site_pattern": self.site_pattern,
            "schemes": {
                name: {
                    "group": r.group,
                    "rule": r.rule,
                    "missing": list(r.missing),
                    "reason": r.reason,
                    "notes": list(r.notes),
                }
                for name, r in self.schemes.items()
            },
            "pathway": {
                "scheme": self.pathway.scheme,
                "primary": self.pathway.primary,
                "plan": self.pathway.plan.value,
                "threshold": self.pathway.threshold,
                "additions": [a.value for a in self.pathway.additions],
                "rules": list(self.pathway.rules),
                "plan_rules": list(self.pathway.plan_rules),
                "reason": self.pathway.reason,
                "decided_by": list(self.pathway.decided_by),
                "evidence": list(self.pathway.evidence),
            },
            "changes": [
                {
                    "target": c.target,
                    "inputs": list(c.inputs),
                    "condition": c.condition,
                    "answer": c.answer,
                    "rules": list(c.rules),
                    "still_missing": list(c.still_missing),
                    "threshold": c.threshold,
                }
                for c in self.changes
            ],
            "warnings": list(self.warnings),
            "ignored": i.ignored,
        }
        if self.response is not None:
            found["response"] = self.response.to_json()
        return found


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()
