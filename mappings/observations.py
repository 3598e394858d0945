"""Observations: MRD, marrow blasts, karyotype (ISCN), genomics and immunophenotype.

fhir-contract.md, "Observations". Values are never logged; problems name only `Type/id`.

Readings where the contract is silent (issue 12):
- Genes: HGNC id or symbol (current or a previous one in `gene_aliases`), in
  `http://www.genenames.org`, its `/geneId` form or `urn:oid:2.16.840.1.113883.6.281`; a fusion
  written in text as `BCR::ABL1` or `BCR-ABL1`. ABL-class: ABL1 with a partner other than BCR,
  or ABL2, CSF1R, PDGFRB with any partner (`fusion_markers`); one such fusion absent does not
  cover the class.
- A result that cannot be read (no gene, a lone fusion gene reported present, no present/absent
  answer, an unreadable karyotype) makes none of the markers it could report absent: they stay
  unknown, and a warning names the resource. A result saying absent wins over one not read.
- FISH (`nuc ish`): two genes of a known fusion joined by `con` → that fusion present; genes named
  there otherwise (normal signals, `sep`, one gene's 5' con 3') are not covered, never absent.
- Several clones: the lowest sets the modal number; a high-hyperdiploid clone is still listed.
- A translocation written without bands (`t(9;22)`) cannot be read band by band: the markers of
  its chromosomes stay unknown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
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
from service.domain.inputs import MarkerStatus, Mrd
from service.domain.thresholds import Comparator

SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled"})

COMPARATORS = {c.value: c for c in Comparator}  # as written → the comparator
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
# t(9;22)(q34;q11), also with a space before the bands; bands missing are matched to be flagged.
_TRANSLOCATION = re.compile(r"t\(([^()]+)\)(?:\s*\(([^()]+)\))?", re.IGNORECASE)
_CLONE_NUMBER = re.compile(r"^\s*(\d{2,3})(?:\s*[~-]\s*(\d{2,3}))?\s*(?:<\dn>)?\s*,")
_IAMP21 = re.compile(r"iamp\(?21\)?|amp\(21\)", re.IGNORECASE)


def _number(m: re.Match[str]) -> float:
    """The number written; inf when a float cannot hold it ("1e400", an exponent of thousands
    of digits), which the callers' range checks refuse as unreadable."""
    try:
        if m["pexp"] is not None:
            value = 10.0 ** int(m["pexp"])
        else:
            value = float(m["mant"])
            exp = m["exp"] or m["eexp"]
            if exp is not None:
                value *= 10.0 ** int(exp)
    except (OverflowError, ValueError):
        return math.inf
    return value / 100 if m["pct"] else value


def _unitless(m: re.Match[str]) -> bool:
    """A plain decimal such as 0.05: a percentage or a fraction? (risk-schemes §10: unreadable)."""
    scientific = m["pexp"] is not None or (m["exp"] or m["eexp"]) is not None
    return not (m["pct"] or scientific) and float(m["mant"]) != 0.0


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
        return None if _unitless(neg) else (Comparator.LT, _number(neg))
    m = _MRD_VALUE.match(t)
    if m is None or _unitless(m):
        return None
    return COMPARATORS[m["cmp"] or "="], _number(m)


def mrd_string_lacks_unit(text: str) -> bool:
    """Whether an MRD string is a plain number that is unreadable only for want of a unit."""
    m = _MRD_VALUE.match(text.strip().replace(",", "."))
    return m is not None and _unitless(m)


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
        cmp = COMPARATORS.get(as_str(quantity.get("comparator")) or "=")
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
            if mrd_string_lacks_unit(text):
                return Reading(
                    problem=f"{r}: MRD number without a unit: give it as %, in scientific "
                    "notation or with a UCUM unit"
                )
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
    """Whether the sample was bone marrow: a coded bodySite, or a Specimen typed bone marrow
    specimen (SNOMED 119359002) or collected from bone marrow, says so; nothing coded counts as
    marrow; a coded site that is not marrow, or only codes we do not know, does not."""
    concepts: list[Any] = [resource.get("bodySite")]
    target = reference_target(resource.get("specimen"))
    if target is not None:
        specimen = specimens.get(target, {})
        concepts += [specimen.get("type"), as_dict(specimen.get("collection")).get("bodySite")]
    marrow = unknown = False
    for concept in concepts:
        cs = list(codings(concept))
        if not cs:
            continue
        site = codes.match("body_site", cs)
        if codes.match("marrow_specimen", cs) is not None or (site and site.value == "marrow"):
            marrow = True
        elif site is not None:
            return False  # CSF, CNS, testis
        else:
            unknown = True
    return marrow or not unknown


# Markers a G-band karyotype can show: an unreadable karyotype leaves each of them unknown.
KARYOTYPE_MARKERS: tuple[str, ...] = (
    "BCR-ABL1",
    "KMT2A",
    "TCF3",
    "iAMP21",
    "hypodiploidy",
    "high_hyperdiploidy",
)
# (marker, (chromosomes all named, chromosomes one of which is named)) for a bandless t().
_BANDLESS: tuple[tuple[str, tuple[frozenset[str], frozenset[str]]], ...] = (
    ("BCR-ABL1", (frozenset({"9", "22"}), frozenset({"9"}))),
    ("KMT2A", (frozenset({"11"}), frozenset({"11"}))),
    ("TCF3", (frozenset({"19"}), frozenset({"1", "17"}))),
)
_NUC_ISH = re.compile(r"nuc\s*ish", re.IGNORECASE)
_FISH_GROUP = re.compile(r"\(([^()]*)\)")
_FISH_CON = re.compile(r"^(.+?)\s+con\s+(.+)$", re.IGNORECASE)
_FISH_TOKEN = re.compile(r"[A-Za-z0-9'’]+")
# A fusion written in text: BCR::ABL1 (ISCN 2016+, HGVS) or BCR-ABL1.
# Symbols as HGNC writes them (upper case), so "ABL1-rearranged" names no partner; a trailing
# hyphen ("ETV6-RUNX1-like") is another entity, not the fusion.
_FUSION_TEXT = re.compile(
    r"(?<![\w-])([A-Z][A-Z0-9]{1,15})\s*(::|-)\s*([A-Z][A-Z0-9]{1,15})(?![\w-])"
)


def fusion_markers(genes: frozenset[str], codes: CodeSets) -> frozenset[str]:
    """The markers of genes reported together (one variant, one fusion)."""
    found = {marker for rule, marker in codes.gene_markers if rule <= genes}
    for gene, excluded, marker in codes.fusion_markers:
        if gene in genes and genes - {gene} - excluded:
            found.add(marker)
    return frozenset(found)


def markers_of_genes(genes: frozenset[str], codes: CodeSets) -> frozenset[str]:
    """Every marker a finding about these genes could be."""
    found = {marker for rule, marker in codes.gene_markers if rule & genes}
    found |= {marker for gene, _, marker in codes.fusion_markers if gene in genes}
    return frozenset(found)


def gene_level_markers(codes: CodeSets) -> frozenset[str]:
    """Every marker a genomic result can report."""
    return frozenset(m for _, m in codes.gene_markers) | {m for _, _, m in codes.fusion_markers}


def _needs_partner(gene: str, codes: CodeSets) -> bool:
    """A gene whose markers are fusions: alone, a finding about it names no marker."""
    return any(gene in rule and len(rule) > 1 for rule, _ in codes.gene_markers) or any(
        gene == g for g, _, _ in codes.fusion_markers
    )


@dataclass(frozen=True, slots=True)
class Karyotype:
    modal: int | None
    present: frozenset[str]
    explicit: frozenset[str]
    unknown: frozenset[str] = frozenset()  # named by FISH without a pattern read
    fish: bool = False  # a FISH pattern was read

    @property
    def read(self) -> bool:
        return self.modal is not None or self.fish


def parse_karyotype(iscn: str, codes: CodeSets) -> Karyotype:
    """Markers of an ISCN karyotype (contract: modal number, translocations band by band), and
    of the FISH (`nuc ish`) that may follow it: two genes of a known fusion joined by `con`."""
    nuc = _NUC_ISH.search(iscn)
    banded = iscn[: nuc.start()] if nuc else iscn
    numbers: list[int] = []
    for clone in banded.split("/"):
        m = _CLONE_NUMBER.match(clone)
        if m is not None:
            numbers.append(int(m[1]) if m[2] is None else min(int(m[1]), int(m[2])))
    # The lowest clone sets the modal number (hypodiploidy); a high-hyperdiploid clone is still
    # listed as favourable (risk-schemes §10).
    modal = min(numbers) if numbers else None
    present: set[str] = set()
    unread: set[str] = set()
    for chroms, bands in _TRANSLOCATION.findall(iscn):
        if not bands:
            # t(9;22) without bands cannot be read band by band: its markers stay unknown.
            named = {c.strip().lower() for c in chroms.split(";")}
            unread |= {m for m, cs in _BANDLESS if cs[0] <= named and named & cs[1]}
            continue
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
    if _IAMP21.search(banded):
        present.add("iAMP21")
    fish_present, unknown = _read_fish(iscn[nuc.end() :], codes) if nuc else (frozenset(), set())
    present |= fish_present
    unknown |= unread
    explicit = set(present)
    if modal is not None:
        explicit |= {"hypodiploidy", "high_hyperdiploidy"}
        if modal < 40:
            present.add("hypodiploidy")
    if any(n > 50 for n in numbers):
        present.add("high_hyperdiploidy")
    return Karyotype(
        modal,
        frozenset(present),
        frozenset(explicit),
        frozenset(unknown - present),
        bool(fish_present),
    )


def _probe(token: str, codes: CodeSets) -> str:
    """The probe a FISH token names ("5'KMT2A", "BCRx2"): our gene name when we know it."""
    t = re.sub(r"^[53][’']", "", token)
    t = re.sub(r"x\d+(?:~\d+)?$", "", t, flags=re.IGNORECASE).upper()
    return codes.gene_symbols.get(t, t)


def _read_fish(fish: str, codes: CodeSets) -> tuple[frozenset[str], set[str]]:
    """(markers present, markers not covered) of the `nuc ish` part of an ISCN string."""
    present: set[str] = set()
    read: set[str] = set()
    for group in _FISH_GROUP.findall(fish):
        for item in group.split(","):
            con = _FISH_CON.match(item.strip())
            if con is None:
                continue
            genes = frozenset(
                _probe(t, codes) for side in (con[1], con[2]) for t in _FISH_TOKEN.findall(side)
            )
            # 5'KMT2A con 3'KMT2A is one gene whole (a normal break-apart), not a fusion.
            found = fusion_markers(genes, codes) if len(genes) >= 2 else frozenset()
            if found:
                present |= found
                read |= genes
    named = {_probe(t, codes) for t in _FISH_TOKEN.findall(fish)}
    return frozenset(present), set(markers_of_genes(frozenset(named - read), codes))


def karyotype_text(resource: Mapping[str, Any]) -> str | None:
    return as_str(resource.get("valueString")) or as_str(
        as_dict(resource.get("valueCodeableConcept")).get("text")
    )


@dataclass(frozen=True, slots=True)
class GenomicResult:
    """What one genomic result says. `unknown`: markers it may report but could not be read for
    (never absent because of it). `evaluated`: the result was read (genes and answer)."""

    markers: Mapping[str, MarkerStatus]
    unknown: frozenset[str] = frozenset()
    problem: str | None = None

    @property
    def evaluated(self) -> bool:
        return self.problem is None


def text_fusions(text: str, codes: CodeSets) -> set[str]:
    """Genes of the fusions written in a text ("BCR::ABL1", "ETV6-RUNX1")."""
    genes: set[str] = set()
    for left, sep, right in _FUSION_TEXT.findall(text):
        pair = [codes.gene_symbols.get(g.upper()) for g in (left, right)]
        # "::" only joins genes; a hyphen joins many words, so one side must be a gene we know.
        if sep == "::" or any(pair):
            genes |= {p or g.upper() for p, g in zip(pair, (left, right), strict=True)}
    return genes


def _texts(concept: Any) -> list[str]:
    c = as_dict(concept)
    found = [as_str(c.get("text"))] + [as_str(x.get("display")) for x in codings(c)]
    return [t for t in found if t]


def genomic_genes(resource: Mapping[str, Any], codes: CodeSets) -> frozenset[str]:
    """Genes a genomic result names: HGNC codings (id or symbol) of component 48018-6 gene
    studied, a bare known symbol as its text, and fusions written in any text."""
    genes: set[str] = set()
    texts = _texts(resource.get("code")) + [
        t for t in [as_str(as_dict(resource.get("valueCodeableConcept")).get("text"))] if t
    ]
    for raw in as_list(resource.get("component")):
        component = as_dict(raw)
        value = component.get("valueCodeableConcept")
        texts += _texts(value) + [t for t in [as_str(component.get("valueString"))] if t]
        if codes.match("gene_studied", codings(component.get("code"))) is None:
            continue
        coded = {g for c in codings(value) if (g := codes.gene(c))}
        if not coded:
            coded = {g for t in _texts(value) if (g := codes.gene_symbols.get(t.strip().upper()))}
        genes |= coded
    for text in texts:
        genes |= text_fusions(text, codes)
    return frozenset(genes)


def variant_iscn_markers(resource: Mapping[str, Any], codes: CodeSets) -> frozenset[str]:
    """Markers of the structural variant a component 81291-7 (cytogenomic nomenclature, ISCN)
    describes, e.g. `t(9;22)(q34;q11.2)` → BCR-ABL1; never the ploidy of a karyotype prefix."""
    found: set[str] = set()
    for raw in as_list(resource.get("component")):
        component = as_dict(raw)
        if codes.match("variant_iscn", codings(component.get("code"))) is None:
            continue
        value = component.get("valueCodeableConcept")
        texts = _texts(value) + [as_str(c.get("code")) or "" for c in codings(value)]
        texts += [t for t in [as_str(component.get("valueString"))] if t]
        for text in texts:
            found |= parse_karyotype(text, codes).present
    return frozenset(found - {"hypodiploidy", "high_hyperdiploidy"})


def read_genomic(resource: Mapping[str, Any], codes: CodeSets) -> GenomicResult:
    """Markers named by a genomic variant: genes from component 48018-6 (or a fusion written in
    text), presence LA9633-4/-2. What cannot be read never makes a marker absent."""
    r = ref(resource)
    genes = genomic_genes(resource, codes)
    iscn = variant_iscn_markers(resource, codes)
    could_be = (
        (markers_of_genes(genes, codes) | iscn) if genes or iscn else gene_level_markers(codes)
    )
    answer = codes.match("answer", codings(resource.get("valueCodeableConcept")))
    if answer is None or answer.value not in ("present", "absent"):
        return GenomicResult({}, could_be, f"{r}: genomic result without a present/absent answer")
    if not genes and not iscn:
        problem = f"{r}: genomic result names no gene that could be read (HGNC expected)"
        return GenomicResult({}, could_be if answer.value == "present" else frozenset(), problem)
    found = fusion_markers(genes, codes) | iscn
    if answer.value == "absent":
        # One fusion absent does not cover a class of fusions (ABL-class).
        fusion_classes = {m for _, _, m in codes.fusion_markers}
        return GenomicResult(dict.fromkeys(found - fusion_classes, MarkerStatus.ABSENT))
    unknown: frozenset[str] = frozenset()
    if not iscn and len(genes) == 1 and _needs_partner(next(iter(genes)), codes):
        # e.g. ABL1 alone "present": which fusion (BCR::ABL1 or ABL-class) is not said.
        unknown = could_be - found
    return GenomicResult(dict.fromkeys(found, MarkerStatus.PRESENT), unknown)


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
