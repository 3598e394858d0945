"""The relapsed-ALL domain: pure functions from `RelapseInputs` to an `Assessment`.

No Flask, no HTTP, no clock, no I/O here: the caller passes `as_of`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from service.domain import schemes as registry
from service.domain.assessment import (
    INDETERMINATE,
    NOT_APPLICABLE,
    Assessment,
    Pathway,
    Plan,
    SchemeResult,
    Timing,
)
from service.domain.changes import what_would_change
from service.domain.evidence import select_evidence
from service.domain.facts import age_at_diagnosis, build_space, with_response_unknown
from service.domain.inputs import RelapseInputs, Site
from service.domain.orders import OrderRecord
from service.domain.pathway import pathway_for
from service.domain.response import FAIL, read_response, unread_reinduction
from service.domain.sites import read_sites
from service.domain.timing import bfm_timing, call_timing, cog_timing
from service.domain.words import PLAN_WORDS

__all__ = ["assess", "primary_schemes"]


def primary_schemes() -> tuple[str, ...]:
    """The schemes the pathway may follow: every scheme (risk-schemes.md §4)."""
    return registry.scheme_keys()


def assess(
    inputs: RelapseInputs,
    as_of: date,
    primary: str = "bfm",
    reinduction: OrderRecord | None = None,
) -> Assessment:
    """Classify a patient's first relapse under every scheme and plan by the primary one;
    `reinduction` (the record as the order checks read it) gives the response (§7)."""
    if primary not in primary_schemes():
        raise ValueError(f"unknown primary scheme {primary!r}; use one of {primary_schemes()}")
    dx, rel = inputs.diagnosis_date, inputs.relapse_date
    age = age_at_diagnosis(inputs)
    if not inputs.has_all or not inputs.relapsed:
        return _without_relapse(inputs, as_of, primary, age)
    reading = read_sites(inputs.sites, inputs.marrow_blasts, incomplete=inputs.sites_incomplete)
    space = build_space(inputs, age)
    response = None if reinduction is None else read_response(reinduction, as_of)
    failed = response is not None and response.cls == FAIL
    overruled: list[str] = []
    unread = (
        None if reinduction is None or response is not None else unread_reinduction(reinduction)
    )
    if inputs.refractory and response is not None and response.cr2 is True:
        # FHIR contract, "Refractory disease": a documented response decides over a refractory
        # code — CR on day 28 means not refractory, whatever C91.00 says. A code recorded after
        # the CR (or undated) is overruled too, as the contract says, but named as such.
        codes = ", ".join(inputs.sources.get("refractory", ())) or "a refractory code"
        latest = inputs.refractory_latest
        after = latest is None or latest > response.marrows[28].value.date
        overruled.append(
            f"{codes}: not read as refractory, CR on day 28 is documented"
            + (" (the code is undated or recorded after the CR: check the record)" if after else "")
        )
        inputs = replace(inputs, refractory=False)
        space = replace(space, fixed=replace(space.fixed, refractory=False))
    if failed:
        # §7: induction failure is refractory disease → PATH-1 (and so the input reads, as a CR
        # overruling a code reads not refractory above).
        inputs = replace(inputs, refractory=True)
        space = replace(space, fixed=replace(space.fixed, refractory=True))
    elif (
        response is not None
        and response.cls == INDETERMINATE
        and response.could_fail
        and not space.fixed.refractory
    ):
        # §4: the plan over every value of a missing input; the response could be RESP-FAIL.
        space = with_response_unknown(space)
    schemes = {name: registry.assess_scheme(name, space) for name in registry.scheme_keys()}
    pathway = pathway_for(space, primary, schemes[primary])
    if failed:
        reason = (
            "Induction failure (RESP-FAIL): refractory disease → "
            f"{PLAN_WORDS[Plan.RELAPSED_REFRACTORY]} (PATH-1)."
        )
        pathway = replace(pathway, reason=reason)
    marrow_values = {Site.MARROW in s for s in reading.possible}
    marrow = marrow_values.pop() if len(marrow_values) == 1 else None
    timing = Timing(
        bfm=bfm_timing(dx, rel, inputs.end_of_therapy, inputs.on_therapy),
        cog=cog_timing(dx, rel, marrow),
        call0603=call_timing(dx, rel),
    )
    evidence = select_evidence(
        inputs.lineage,
        timing=timing,
        marrow=marrow,
        sites=reading.possible[0] if len(reading.possible) == 1 else None,
        plan=pathway.plan,
        additions=pathway.additions,
    )
    pathway = replace(pathway, evidence=evidence)
    return Assessment(
        as_of=as_of,
        inputs=inputs,
        status="relapsed",
        timing=timing,
        site_pattern=reading.pattern,
        age_at_diagnosis=age,
        schemes=schemes,
        pathway=pathway,
        changes=what_would_change(inputs, space, primary, schemes, pathway),
        warnings=inputs.warnings
        + reading.warnings
        + tuple(overruled)
        + ((unread,) if unread else ()),
        response=response,
    )


def _without_relapse(
    inputs: RelapseInputs, as_of: date, primary: str, age: int | None
) -> Assessment:
    status, why = (
        ("no_all", "No acute lymphoblastic leukemia is documented.")
        if not inputs.has_all
        else ("no_relapse", "No relapse is documented.")
    )
    return Assessment(
        as_of=as_of,
        inputs=inputs,
        status=status,
        timing=Timing(INDETERMINATE, INDETERMINATE, INDETERMINATE),
        site_pattern=INDETERMINATE,
        age_at_diagnosis=age,
        schemes={s.key: SchemeResult(NOT_APPLICABLE, s.rule, (), why) for s in registry.SCHEMES},
        pathway=Pathway(primary, primary, Plan.INDETERMINATE, (), (), why),
        warnings=inputs.warnings,
    )
