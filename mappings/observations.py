"""Observations: MRD, marrow blasts, karyotype (ISCN), genomics and immunophenotype.

fhir-contract.md, "Observations". Values are never logged; problems name only `Type/id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mappings.codesets import CodeSets
from mappings.conditions import IMMUNOPHENOTYPE_RANK, LINEAGES, LineageEvidence
from mappings.fhirjson import (
    as_dict,
    as_list,
    as_str,
    codings,
    full_date,
    ref,
    reference_target,
)
from service.domain.inputs import Comparator, MarkerStatus, Mrd

SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled"})

_COMPARATORS = {c.value: c for c in Comparator}
_UNIT_FACTORS = {"%": 0.01, "1": 1.0, "{fraction}": 1.0, "/10*6": 1e-6}
_NUMBER = (
    r"(?:(?P<mant>\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s*[x*]\s*10\s*\^?\s*(?P<exp>[-+]?\d+)|e(?P<eexp>[-+]?\d+))?"
    r"|10\s*\^\s*(?P<pexp>[-+]?\d+))"
    r"\s*(?P<pct>%)?"
)
_MRD_VALUE = re.compile(r"^(?P<cmp><=|>=|<|>|=)?\s*" + _NUMBER + r"$")
_MRD_NEGATIVE = re.compile(
    r"^(?:mrd\s*)?neg(?:ative)?\b.*?sensitivity\s*(?:of|:|=)?\s*(?:<|<=)?\s*" + _NUMBER + r"\)?$"
)
_TRANSLOCATION = re.compile(r"t\(([^()]+)\)\(([^()]+)\)", re.IGNORECASE)
_CLONE_NUMBER = re.compile(r"^\s*(\d{2,3})(?:\s*[~-]\s*(\d{2,3}))?\s*(?:<\dn>)?\s*,")
_IAMP21 = re.compile(r"iamp\(?21\)?|amp\(21\)", re.IGNORECASE)


def _number(m: re.Match[str]) -> float:
    if m["pexp"] is not None:
        value = 10.0 ** int(m["pexp"])
    else:
        value = float(m["mant"])
        exp = m["exp"] or m["eexp"]
        if exp is not None:
            value *= 10.0 ** int(exp)
    return value / 100 if m["pct"] else value


def parse_mrd_string(text: str) -> tuple[Comparator, float] | None:
    """An MRD string as (comparator, fraction), e.g. "<0.01%" → ("<", 1e-4)."""
    t = (
        text.strip()
        .lower()
        .replace("×", "x")
        .replace("≤", "<=")
        .replace("≥", ">=")
        .replace("−", "-")
        .replace(",", ".")
    )
    neg = _MRD_NEGATIVE.match(t)
    if neg is not None:
        return Comparator.LT, _number(neg)
    m = _MRD_VALUE.match(t)
    if m is None:
        return None
    return _COMPARATORS[m["cmp"] or "="], _number(m)


def observation_date(resource: Mapping[str, Any]) -> date | None:
    return full_date(resource.get("effectiveDateTime")) or full_date(
        as_dict(resource.get("effectivePeriod")).get("start")
    )


@dataclass(frozen=True, slots=True)
class Reading:
    """A value read from an Observation, or the reason it could not be."""

    mrd: Mrd | None = None
    percent: float | None = None
    problem: str | None = None


def read_mrd(resource: Mapping[str, Any]) -> Reading:
    r = ref(resource)
    when = observation_date(resource)
    quantity = resource.get("valueQuantity")
    text = as_str(resource.get("valueString"))
    if isinstance(quantity, Mapping):
        value = quantity.get("value")
        unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
        cmp = _COMPARATORS.get(as_str(quantity.get("comparator")) or "=")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return Reading(problem=f"{r}: MRD without a numeric value")
        if unit not in _UNIT_FACTORS:
            return Reading(
                problem=f"{r}: MRD unit not understood (expected %, 1, {{fraction}} or /10*6)"
            )
        if cmp is None:
            return Reading(problem=f"{r}: MRD comparator not understood")
        fraction = float(value) * _UNIT_FACTORS[unit]
    elif text is not None:
        parsed = parse_mrd_string(text)
        if parsed is None:
            return Reading(problem=f"{r}: MRD text not understood")
        cmp, fraction = parsed
    else:
        return Reading(problem=f"{r}: MRD without a value")
    if not 0.0 <= fraction <= 1.0:
        return Reading(problem=f"{r}: MRD value out of range")
    return Reading(mrd=Mrd(round(fraction, 12), cmp, when, r))


def read_blasts(resource: Mapping[str, Any]) -> Reading:
    r = ref(resource)
    quantity = resource.get("valueQuantity")
    text = as_str(resource.get("valueString"))
    value: float | None = None
    if isinstance(quantity, Mapping):
        unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
        raw = quantity.get("value")
        if unit == "%" and isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        elif unit != "%":
            return Reading(problem=f"{r}: marrow blasts unit not understood (expected %)")
    elif text is not None:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", text)
        value = float(m[1]) if m else None
    if value is None or not 0.0 <= value <= 100.0:
        return Reading(problem=f"{r}: marrow blasts without a percentage")
    return Reading(percent=value)


def is_marrow_sample(
    resource: Mapping[str, Any], codes: CodeSets, specimens: Mapping[str, Mapping[str, Any]]
) -> bool:
    """False only when a coded bodySite or specimen says the sample was not bone marrow."""
    concepts: list[Any] = [resource.get("bodySite")]
    target = reference_target(resource.get("specimen"))
    if target is not None:
        specimen = specimens.get(target, {})
        concepts += [specimen.get("type"), as_dict(specimen.get("collection")).get("bodySite")]
    for concept in concepts:
        cs = list(codings(concept))
        if not cs:
            continue
        entry = codes.match("body_site", cs)
        if entry is None or entry.value != "marrow":
            return False
    return True


@dataclass(frozen=True, slots=True)
class Karyotype:
    modal: int | None
    present: frozenset[str]
    explicit: frozenset[str]


def parse_karyotype(iscn: str) -> Karyotype:
    """Markers of an ISCN karyotype (contract: modal number, translocations band by band)."""
    numbers: list[int] = []
    for clone in iscn.split("/"):
        m = _CLONE_NUMBER.match(clone)
        if m is not None:
            numbers.append(int(m[1]) if m[2] is None else min(int(m[1]), int(m[2])))
    modal = min(numbers) if numbers else None
    present: set[str] = set()
    for chroms, bands in _TRANSLOCATION.findall(iscn):
        pairs = list(
            zip(
                (c.strip().lower() for c in chroms.split(";")),
                (b.strip().lower() for b in bands.split(";")),
                strict=False,
            )
        )
        at = {(c, b[:3]) for c, b in pairs}
        chromosomes = {c for c, _ in pairs}
        if ("9", "q34") in at and ("22", "q11") in at:
            present.add("BCR-ABL1")
        if ("11", "q23") in at:
            present.add("KMT2A")
        if ("19", "p13") in at and chromosomes & {"1", "17"}:
            present.add("TCF3")
    if _IAMP21.search(iscn):
        present.add("iAMP21")
    explicit = set(present)
    if modal is not None:
        explicit |= {"hypodiploidy", "high_hyperdiploidy"}
        if modal < 40:
            present.add("hypodiploidy")
        if modal > 50:
            present.add("high_hyperdiploidy")
    return Karyotype(modal, frozenset(present), frozenset(explicit))


def karyotype_text(resource: Mapping[str, Any]) -> str | None:
    return as_str(resource.get("valueString")) or as_str(
        as_dict(resource.get("valueCodeableConcept")).get("text")
    )


@dataclass(frozen=True, slots=True)
class GenomicResult:
    markers: Mapping[str, MarkerStatus]
    problem: str | None = None


def read_genomic(resource: Mapping[str, Any], codes: CodeSets) -> GenomicResult:
    """Markers named by a genomic variant: genes from component 48018-6, presence LA9633-4/-2."""
    r = ref(resource)
    answer = codes.match("answer", codings(resource.get("valueCodeableConcept")))
    if answer is None or answer.value not in ("present", "absent"):
        return GenomicResult({}, f"{r}: genomic result without a present/absent answer")
    genes: set[str] = set()
    for raw in as_list(resource.get("component")):
        component = as_dict(raw)
        if codes.match("gene_studied", codings(component.get("code"))) is None:
            continue
        gene = codes.match("gene", codings(component.get("valueCodeableConcept")))
        if gene is not None and gene.value:
            genes.add(gene.value)
    status = MarkerStatus.PRESENT if answer.value == "present" else MarkerStatus.ABSENT
    markers = {marker: status for rule, marker in codes.gene_markers if rule <= genes}
    return GenomicResult(markers)


def immunophenotype_lineage(resource: Mapping[str, Any], codes: CodeSets) -> LineageEvidence | None:
    cs = list(codings(resource.get("valueCodeableConcept")))
    for name in ("lineage_concept", "lineage_secondary", "lineage_primary"):
        entry = codes.match(name, cs)
        lineage = LINEAGES.get(entry.value or "") if entry is not None else None
        if lineage is not None:
            return LineageEvidence(IMMUNOPHENOTYPE_RANK, lineage, ref(resource))
    return None


def states_absent(resource: Mapping[str, Any], codes: CodeSets) -> bool:
    """An Observation whose value says "no" (valueBoolean false or the LOINC answer absent)."""
    if resource.get("valueBoolean") is False:
        return True
    answer = codes.match("answer", codings(resource.get("valueCodeableConcept")))
    return answer is not None and answer.value == "absent"


def first_in_window(items: Iterable[Mrd], start: date, end: date) -> Mrd | None:
    """The first dated result with start <= date <= end."""
    dated = sorted(
        (m for m in items if m.date is not None and start <= m.date <= end), key=_by_date
    )
    return dated[0] if dated else None


def _by_date(m: Mrd) -> date:
    return m.date or date.max
