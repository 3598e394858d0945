"""The words a clinician reads for the assessment's codes (issue 8, "Words a clinician reads").

Plans, additions, groups, timing, site patterns, responses, markers and input names each have one
table here (the sites' is beside the site patterns, where the response's notes read it), shared
by the domain's reasons, the cards, the SMART app and the command line, so no enum value or
field name reaches a reader and the card and the app say the same. Rule ids (BFM-B, PATH-3,
EV-CALL-1) are not translated: they are the basis clinicians check.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.domain import sites, timing
from service.domain.assessment import INDETERMINATE, NOT_APPLICABLE, Addition, Assessment, Plan
from service.domain.facts import INPUT_NAMES
from service.domain.inputs import HIGH_RISK_MARKERS, Genetics, MarkerStatus, Mrd
from service.domain.orders import PRELIMINARY_WORDS
from service.domain.response import FAIL, PENDING, RER, SER, Response
from service.domain.response import INDETERMINATE as RESPONSE_UNDETERMINED
from service.domain.sites import site_list
from service.domain.thresholds import Comparator

# Input names (RelapseInputs fields, `missing`, `decided_by`, `sources` keys) → labels. Written
# to read inside a sentence too ("needs date of first relapse"); units go with the values.
INPUT_WORDS: dict[str, str] = {
    "lineage": "Lineage",
    "diagnosis_date": "Date of diagnosis",
    "relapse_date": "Date of first relapse",
    "end_of_therapy": "End of frontline therapy",
    "on_therapy": "On frontline therapy at relapse",
    "sites": "Relapse sites",
    "marrow_blasts": "Marrow blasts at relapse",
    "mrd": "Post-induction MRD",
    "genetics": "Genetics",
    "birth_date": "Date of birth",
    "sex": "Sex",
    "age_at_diagnosis": "Age at diagnosis",
    "relapse_count": "Number of relapses",
    "prior_hsct": "Prior allogeneic HSCT",
    "refractory": "Refractory disease",
}
# Names `missing` and `decided_by` give that are no input of the record, so no row of the app:
# an undetermined response to reinduction that could be a failure decides the plan (§4, §7).
NAME_WORDS: dict[str, str] = {**INPUT_WORDS, "response": "Response to reinduction"}
PLAN_WORDS: dict[Plan, str] = {
    Plan.CHEMOTHERAPY: "chemotherapy (reinduction, consolidation, maintenance), no HSCT",
    Plan.MRD_DIRECTED: "post-induction MRD decides between chemotherapy and HSCT",
    Plan.CHEMOTHERAPY_THEN_HSCT: "intensive chemotherapy, then allogeneic HSCT in CR2",
    Plan.RELAPSED_REFRACTORY: "relapsed/refractory: novel agents, clinical trial, HSCT in CR/CRp",
    Plan.INDETERMINATE: "undetermined until the missing inputs are known",
}
ADDITION_WORDS: dict[Addition, str] = {
    Addition.BLINATUMOMAB: "blinatumomab before HSCT (1–2 cycles)",
    Addition.HSCT_REGARDLESS_OF_MRD: "HSCT regardless of MRD (TP53 alteration)",
    Addition.CRANIAL_IRRADIATION: "cranial irradiation after intensive chemotherapy",
    Addition.TESTICULAR_LOCAL_THERAPY: "local therapy of the involved testis",
    Addition.T_LINEAGE_AGENTS: "T-lineage agents (nelarabine, bortezomib)",
    Addition.SUPPORTIVE_CARE: "supportive care (anti-fungal prophylaxis; anthracycline and "
    "asparaginase review)",
}
# Groups are the spec's names (S1…S4, standard, high, …); only the two codes need words.
GROUP_WORDS: dict[str, str] = {INDETERMINATE: "undetermined", NOT_APPLICABLE: "not applicable"}
TIMING_WORDS: dict[str, str] = {
    timing.VERY_EARLY: "very early",
    timing.EARLY: "early",
    timing.LATE: "late",
    timing.INDETERMINATE: "undetermined",
}
PATTERN_WORDS: dict[str, str] = {
    sites.ISOLATED_EXTRAMEDULLARY: "isolated extramedullary",
    sites.COMBINED: "combined",
    sites.ISOLATED_MARROW: "isolated marrow",
    sites.INDETERMINATE: "undetermined",
}
RESPONSE_WORDS: dict[str, str] = {
    RER: "rapid early response",
    SER: "slow early response",
    FAIL: "induction failure (no CR on day 28): refractory disease",
    PENDING: "pending (no day-28 marrow yet)",
    RESPONSE_UNDETERMINED: "undetermined",
}
# Marker names are the spec's (§5) except this one, which is a code.
MARKER_WORDS: dict[str, str] = {"high_hyperdiploidy": "high hyperdiploidy (> 50)"}

if missing := set(INPUT_NAMES) - set(NAME_WORDS):
    raise ValueError(f"input names without words: {sorted(missing)}")


def input_label(name: str) -> str:
    """An input's label, as a table row names it ("Post-induction MRD")."""
    return NAME_WORDS[name]


def input_names(names: Iterable[str]) -> str:
    """Input names inside a sentence: "date of first relapse, post-induction MRD"."""
    labels = (NAME_WORDS[n] for n in names)
    return ", ".join(x if x[1:2].isupper() else x[:1].lower() + x[1:] for x in labels)


def group_words(group: str) -> str:
    return GROUP_WORDS.get(group, group)


def groups_words(groups: Iterable[str]) -> str:
    """Possible groups: "S2 or S3", "high or not applicable"."""
    return " or ".join(group_words(g) for g in groups)


def mrd_percent(threshold: float) -> str:
    """A fraction as clinicians write MRD: 1e-3 → "0.1 %"."""
    return f"{threshold * 100:g} %"


def format_mrd(m: Mrd) -> str:
    """An MRD value as a clinician reads it: percent with its comparator."""
    pct = f"{m.value * 100:.4g} %"
    return pct if m.comparator is Comparator.EQ else f"{m.comparator.value} {pct}"


def plan_words(plan: Plan, threshold: float | None) -> str:
    """The plan in words; an MRD-directed plan names its threshold (§4 plan resolution)."""
    if plan == Plan.MRD_DIRECTED and threshold is not None:
        return (
            f"MRD decides: HSCT if post-induction MRD ≥ {mrd_percent(threshold)}, "
            "chemotherapy without HSCT below it"
        )
    return PLAN_WORDS[plan]


def addition_words(addition: Addition) -> str:
    return ADDITION_WORDS[addition]


def marker_names(markers: Iterable[str]) -> str:
    return ", ".join(MARKER_WORDS.get(m, m) for m in markers)


def genetics_words(g: Genetics) -> str:
    """The genetics line of the card and the app: what is present, and the high-risk markers
    (§5) no result covered, which are never read as absent by the reader either."""
    high = g.present(HIGH_RISK_MARKERS)
    other = [m for m in g.present() if m not in HIGH_RISK_MARKERS]
    if not g.evaluated:
        parts = ["not tested: no karyotype or genomic result read"]
        if high:
            parts.append(f"high-risk markers present: {marker_names(high)}")
    else:
        parts = ["evaluated", f"high-risk markers present: {marker_names(high) or 'none'}"]
    if other:
        parts.append(f"other markers present: {marker_names(other)}")
    if g.evaluated:
        uncovered = g.uncovered()
        unread = [m for m in uncovered if g.status(m) is MarkerStatus.NOT_TESTED]
        if uncovered:
            parts.append(f"high-risk markers no result covered: {marker_names(uncovered)}")
        if unread:
            parts.append(f"a result could not be read for: {marker_names(unread)}")
    return "; ".join(parts)


def input_sources(name: str, a: Assessment) -> tuple[str, ...]:
    """The `Type/id` references an input came from; age comes from the birth date and the
    diagnosis."""
    names = ("birth_date", "diagnosis_date") if name == "age_at_diagnosis" else (name,)
    return tuple(ref for n in names for ref in a.inputs.sources.get(n, ()))


def input_value(name: str, a: Assessment) -> str:
    """An input's value in words, as the card and the app show it.

    Unknown reads "not documented"; so does a `False` that no resource backs (prior HSCT,
    refractory disease, on therapy count only when documented: risk-schemes.md §3). A value read
    from a preliminary result says so (fhir-contract.md, "The leukemia").
    """
    text = _value_words(name, a)
    preliminary = a.inputs.preliminary
    if preliminary and not preliminary.isdisjoint(input_sources(name, a)):
        return f"{text} {PRELIMINARY_WORDS}"
    return text


def _value_words(name: str, a: Assessment) -> str:
    i = a.inputs
    value: object = a.age_at_diagnosis if name == "age_at_diagnosis" else getattr(i, name)
    if name == "genetics":
        return genetics_words(i.genetics)
    if name == "sites":
        return _sites(a)
    if name == "refractory" and a.response is not None and a.response.cls == FAIL:
        # §7: induction failure is refractory disease, whether or not a code says so.
        coded = "; also coded" if input_sources(name, a) else ""
        return f"yes: induction failure on reinduction (RESP-FAIL){coded}"
    if value is None or (value is False and not input_sources(name, a)):
        return "not documented"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mrd):
        when = value.date.isoformat() if value.date else "unknown date"
        text = f"{format_mrd(value)} on {when}"
        return f"{text} {PRELIMINARY_WORDS}" if value.preliminary else text
    if name == "marrow_blasts":
        return f"{value:g} %"
    if name == "age_at_diagnosis":
        return f"{value} years"
    return str(value)


def response_words(r: Response) -> str:
    """The response in plain words, with its rule, day 0 and the marrows read (no markup): the
    card, the app and the command line say the same."""
    marrows = ", ".join(
        m.value.marked(f"day {day} {m.grade}") for day, m in sorted(r.marrows.items())
    )
    cr2 = {True: "met", False: "not met", None: "not shown"}[r.cr2]
    if r.unassigned is not None:
        marrows_words = f"marrows not assigned: {r.unassigned}"
    else:
        marrows_words = f"marrows: {marrows or 'none read'}"
    words = (
        f"{RESPONSE_WORDS[r.cls]} ({r.rule}); day 0 {r.day0.date.isoformat()} "
        f"({r.day0.source}); {marrows_words}; CR2 on day 28 {cr2}."
    )
    return words + (f" Needs: {', '.join(r.missing)}." if r.missing else "")


def _sites(a: Assessment) -> str:
    """The sites, with those read from free text and a written site that could not be read."""
    i = a.inputs
    text = "not documented" if i.sites is None else site_list(i.sites) or "none coded"
    marks = []
    if i.sites_from_text:
        marks.append(f"read from text: {site_list(i.sites_from_text)}")
    if i.sites_incomplete:
        marks.append("a site written in text could not be read")
    return f"{text} ({'; '.join(marks)})" if marks else text
