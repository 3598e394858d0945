"""FHIR resources → `RelapseInputs` (fhir-contract.md). The mapping's public entry points."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from mappings import conditions as cond
from mappings import mrd as mrd_results
from mappings import observations as obs
from mappings.codesets import CodeSets, coding_keys
from mappings.errors import InvalidBundle
from mappings.fhirjson import as_str, codings, ref, validation_problem, with_time_zones
from mappings.patient import read_patient
from mappings.reinduction import NOT_DONE, VALUE_SETS, day0_candidates
from mappings.standing import standing_observations
from mappings.therapy import frontline_therapy, hsct_events
from service.domain.inputs import Genetics, Lineage, MarkerStatus, Mrd, RelapseInputs, Site
from service.domain.orders import Unread, day0_after

MRD_WINDOW = (timedelta(days=21), timedelta(days=60))
BLAST_WINDOW = timedelta(days=14)
REFRACTORY_DAY28 = timedelta(days=28)
REFRACTORY_NO_DAY0 = timedelta(days=35)
_OBSERVATION_KINDS = (
    "mrd",
    "marrow_blasts",
    "karyotype",
    "genomic_variant",
    "immunophenotype",
    "end_of_frontline_therapy",
    "refractory",
)

# Observations whose loss could change the answer (issue 12, "never silent").
_ANSWER_KINDS = ("mrd", "marrow_blasts", "karyotype", "genomic_variant", "refractory")
# Kinds read only where they stand (`mappings.standing`: of results linked by an identifier or
# an id, amended/corrected over final over preliminary), with whether the latest issued then
# decides: a blast count is one value; genetic results at the top status are all read, as
# unlinked ones are. MRD groups its own results (`mappings.mrd`).
_STANDING_KINDS = (("marrow_blasts", True), ("karyotype", False), ("genomic_variant", False))
# Kinds whose preliminary results an input may hold (contract: they count, marked so); a
# preliminary MRD is marked by its own flag (`Mrd.preliminary`).
_MARKED_KINDS = tuple(k for k in _OBSERVATION_KINDS if k != "mrd")


def resources_from_bundle(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle holding exactly one Patient; `InvalidBundle` otherwise."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise InvalidBundle("expected a FHIR Bundle (resourceType 'Bundle')")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidBundle("Bundle.entry must be a list")
    pairs = [
        (e.get("fullUrl"), dict(e["resource"]))
        for e in entries
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    ]
    resources = _resolve_full_urls(pairs)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if not patients:
        raise InvalidBundle("the Bundle holds no Patient")
    if len(patients) > 1:
        raise InvalidBundle(f"the Bundle holds {len(patients)} Patients; expected exactly one")
    return resources


def _resolve_full_urls(pairs: list[tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The resources, with references to another entry's `fullUrl` rewritten as `Type/id`.

    Transaction Bundles (Synthea) refer by `urn:uuid:` fullUrl; a resource written there without
    an id takes the uuid as its id, so that the references to it resolve.
    """
    aliases: dict[str, str] = {}
    for full_url, resource in pairs:
        rtype = resource.get("resourceType")
        if not isinstance(full_url, str) or not isinstance(rtype, str):
            continue
        if not isinstance(resource.get("id"), str) and full_url.startswith("urn:uuid:"):
            resource["id"] = full_url.removeprefix("urn:uuid:")
        if isinstance(resource.get("id"), str):
            aliases[full_url] = f"{rtype}/{resource['id']}"
    return [_rewrite_references(r, aliases) for _, r in pairs] if aliases else [r for _, r in pairs]


def _rewrite_references(value: Any, aliases: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite_references(v, aliases) for k, v in value.items()}
        target = out.get("reference")
        if isinstance(target, str) and target in aliases:
            out["reference"] = aliases[target]
        return out
    if isinstance(value, list):
        return [_rewrite_references(v, aliases) for v in value]
    return value


# Observation sets the reinduction reader (mappings.orders) reads beside the relapse inputs.
_REINDUCTION_OBSERVATIONS = (*VALUE_SETS, "reinduction_start")
_READ_OBSERVATIONS = (*_OBSERVATION_KINDS, *_REINDUCTION_OBSERVATIONS)  # by either reader
# Resource types reinduction day 0 may be dated from (`mappings.reinduction`), Observations
# aside: the drugs, the Medications they refer to, and Procedures.
_DAY0_TYPES = frozenset(
    {"Procedure", "MedicationRequest", "MedicationAdministration", "Medication"}
)
_CHECK_EVERY = 256  # resources validated between two `check` calls (~50 ms of work)


class _Record:
    """The resources the mapping reads, sorted by kind, each validated once."""

    def __init__(self, codes: CodeSets) -> None:
        self.codes = codes
        self.warnings: list[str] = []
        self.unread: list[str] = []  # could change the answer, could not be read
        # Of those, Conditions that could name extramedullary disease (day 28, risk-schemes §7).
        self.unread_disease: list[Unread] = []
        self.patients: list[Mapping[str, Any]] = []
        self.conditions: list[Mapping[str, Any]] = []
        self.observations: dict[str, list[Mapping[str, Any]]] = {k: [] for k in _OBSERVATION_KINDS}
        self.hsct_procedures: list[Mapping[str, Any]] = []
        self.eot_procedures: list[Mapping[str, Any]] = []
        # Validated here (named when unreadable); `mappings.reinduction` dates day 0 from them.
        self.reinduction_procedures: list[Mapping[str, Any]] = []
        self.care_plans: list[Mapping[str, Any]] = []
        self.specimens: dict[str, Mapping[str, Any]] = {}
        self.specimen_list: list[Mapping[str, Any]] = []
        self.ignored = 0  # resources no input reads (see `_target`)
        # Every code any Observation reader reads: an Observation with none of them (a routine
        # lab, thousands of them) is counted as ignored after one lookup.
        self.observation_keys = codes.union(_READ_OBSERVATIONS)
        self.day0_sources: list[Mapping[str, Any]] = []  # what day 0 may be dated from

    def add(self, resource: Any) -> None:
        if not isinstance(resource, Mapping):
            self.warnings.append("an entry that is not a resource was skipped")
            return
        rtype = resource.get("resourceType")
        if rtype == "Observation":
            if self.observation_keys.isdisjoint(coding_keys(codings(resource.get("code")))):
                self.ignored += 1
                return
            self.day0_sources.append(resource)
        elif rtype in _DAY0_TYPES:
            self.day0_sources.append(resource)
        target = self._target(resource, rtype)
        if target is None:
            status = self._withdrawn(resource, rtype)
            if status is not None:
                # Contract, "Only resources that stand": ignored, and named.
                self.warnings.append(f"{ref(resource)} does not stand ({status}): ignored")
            elif not self._read_for_reinduction(resource, rtype):
                self.ignored += 1  # can change no input: neither validated nor read, only counted
            return
        problem = validation_problem(resource)
        naive = False
        if problem is not None:
            # R4 wants a time zone on every dateTime, EHRs write local times without one: such a
            # resource is read for its dates. Only a resource that fails is searched for them.
            zoned, naive = with_time_zones(resource)
            if naive:
                problem = validation_problem(zoned)
        if problem is not None:
            self.warnings.append(f"{ref(resource)} could not be read: {problem}")
            if target is self.conditions or any(
                target is self.observations[k] for k in _ANSWER_KINDS
            ):
                self.unread.append(ref(resource))
            if target is self.conditions:
                self._unread_disease(resource)
            return
        if naive:
            self.warnings.append(
                f"{ref(resource)}: a dateTime without a time zone was read for its date"
            )
        if target is self.specimen_list:
            self.specimens[ref(resource)] = resource  # MRD samples refer to it by Specimen/id
        else:
            target.append(resource)

    def _unread_disease(self, r: Mapping[str, Any]) -> None:
        """Keep, with its date as written (None: none readable), an ALL Condition that could not
        be read but names an extramedullary site: it could be disease at day 28."""
        facts = cond.read_condition(r, self.codes)
        if facts.is_all and (facts.sites.sites or frozenset()) - {Site.MARROW}:
            self.unread_disease.append(Unread("site_disease", facts.date, facts.ref))

    def _withdrawn(self, r: Mapping[str, Any], rtype: Any) -> str | None:
        """The status of a resource the mapping would read but that does not stand, else None."""
        codes = self.codes
        if rtype == "Condition" and _entered_in_error(r) and cond.is_relevant(r, codes):
            return "verification status"
        status = as_str(r.get("status"))  # a list or an object would not hash
        if rtype == "Observation" and status in obs.SKIPPED_STATUSES:
            read = codes.first_set(_READ_OBSERVATIONS, codings(r.get("code")))
            return None if read is None else str(status)
        if rtype == "Procedure" and status in NOT_DONE:
            kinds = ("hsct_procedure", "end_of_frontline_therapy", "reinduction_start")
            read = codes.first_set(kinds, codings(r.get("code")))
            return None if read is None else str(status)
        if rtype in ("CarePlan", "Specimen") and status == "entered-in-error":
            return str(status)
        return None

    def _read_for_reinduction(self, r: Mapping[str, Any], rtype: Any) -> bool:
        """Read by the reinduction reader (`mappings.orders`: the response to reinduction and
        the order checks), not here: so never counted as ignored. Medications always, since a
        contained or referenced Medication may name the drug (and a Medication may be it)."""
        if rtype in ("MedicationRequest", "MedicationAdministration", "Medication"):
            return True
        if rtype != "Observation" or as_str(r.get("status")) in obs.SKIPPED_STATUSES:
            return False
        return self.codes.first_set(_REINDUCTION_OBSERVATIONS, codings(r.get("code"))) is not None

    def _target(self, r: Mapping[str, Any], rtype: Any) -> list[Mapping[str, Any]] | None:
        """Where a resource goes, or None when it is not read (and so not validated)."""
        codes = self.codes
        if rtype == "Patient":
            return self.patients
        if rtype == "Condition":
            if _entered_in_error(r):
                return None
            return self.conditions if cond.is_relevant(r, codes) else None
        if rtype == "Observation":
            if as_str(r.get("status")) in obs.SKIPPED_STATUSES:
                return None
            kind = codes.first_set(_OBSERVATION_KINDS, codings(r.get("code")))
            return None if kind is None else self.observations[kind]
        if rtype == "Procedure":
            if r.get("status") in NOT_DONE:
                return None
            cs = list(codings(r.get("code")))
            if codes.match("hsct_procedure", cs) is not None:
                return self.hsct_procedures
            if codes.match("end_of_frontline_therapy", cs) is not None:
                return self.eot_procedures
            if codes.match("reinduction_start", cs) is not None:
                return self.reinduction_procedures
            return None
        if rtype == "CarePlan":
            return self.care_plans if r.get("status") != "entered-in-error" else None
        if rtype == "Specimen":
            # An entered-in-error copy with the same id must not replace the sample that stands.
            return self.specimen_list if r.get("status") != "entered-in-error" else None
        return None


_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def belongs_elsewhere(resource: Any, patient_id: Any) -> bool:
    """Whether a resource's subject (or patient) names anything but this patient.

    A reference that does not resolve to the patient (another Patient, a Group, an unresolved
    `urn:uuid:`) is not the patient's: its data must never reach this patient's assessment.
    """
    if not isinstance(resource, Mapping) or resource.get("resourceType") == "Patient":
        return False
    for key in ("subject", "patient"):
        target = resource.get(key)
        if target is None:
            continue
        reference = target.get("reference") if isinstance(target, Mapping) else None
        if not isinstance(reference, str):
            return True
        match = _PATIENT_REFERENCE.search(reference)
        return match is None or match.group(1) != patient_id
    return False


def _entered_in_error(r: Mapping[str, Any]) -> bool:
    status = {as_str(c.get("code")) for c in codings(r.get("verificationStatus"))}
    return bool(status & {"entered-in-error", "refuted"})


def extract(
    resources: Iterable[Mapping[str, Any]],
    codes: CodeSets,
    *,
    check: Callable[[], None] | None = None,
) -> RelapseInputs:
    """Map one patient's FHIR resources (any types, any order) to the relapse inputs.

    `check` is called every few hundred resources and may raise to stop the work (a deadline).
    """
    rec = _Record(codes)
    resources = list(resources)
    patient_ids = {
        as_str(r.get("id"))
        for r in resources
        if isinstance(r, Mapping) and r.get("resourceType") == "Patient"
    }
    patient_id = next(iter(patient_ids)) if len(patient_ids) == 1 else None
    for i, resource in enumerate(resources):
        if check is not None and i % _CHECK_EVERY == 0:
            check()
        if patient_id is not None and belongs_elsewhere(resource, patient_id):
            rec.warnings.append(f"{ref(resource)} does not refer to this patient and was ignored")
            continue
        rec.add(resource)
    for kind, by_issued in _STANDING_KINDS:
        rec.observations[kind] = standing_observations(rec.observations[kind], by_issued=by_issued)
    warnings = rec.warnings
    sources: dict[str, tuple[str, ...]] = {}

    patient_ref: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    if rec.patients:
        p = read_patient(rec.patients[0])
        patient_ref, birth_date, sex = p.ref, p.birth_date, p.sex
        warnings.extend(p.warnings)
        if p.birth_date is not None:
            sources["birth_date"] = (p.ref,)
        if len(rec.patients) > 1:
            warnings.append(f"several Patients; only {p.ref} is read")
    else:
        warnings.append("no Patient: birth date and sex are unknown")

    facts = [cond.read_condition(c, codes) for c in rec.conditions]
    # Reinduction day 0 (contract): one rule, for the episodes, refractoriness and the orders.
    candidates = day0_candidates(rec.care_plans, rec.day0_sources, codes)
    rel = cond.relapse_facts(facts, candidates)
    warnings.extend(rel.warnings)
    sources.update(rel.sources)
    first_relapse = rel.relapse_dates[0] if rel.relapse_dates else None
    found_day0 = day0_after(candidates, first_relapse) if first_relapse is not None else None
    day0 = found_day0.date if found_day0 is not None else None

    # Lineage: strongest coded evidence from the ALL Conditions and immunophenotype results.
    evidence = [e for f in facts for e in f.lineage]
    for o in rec.observations["immunophenotype"]:
        found = obs.immunophenotype_lineage(o, codes)
        if found is not None:
            evidence.append(found)
    lineage: Lineage | None = None
    if rel.has_all:
        lineage, lineage_refs, lineage_warnings = cond.best_lineage(evidence)
        warnings.extend(lineage_warnings)
        if lineage is not None:
            sources["lineage"] = lineage_refs

    mrd, series = _mrd(rec, first_relapse, warnings, sources)
    blasts = _blasts(rec, first_relapse, warnings, sources)
    genetics = _genetics(rec, facts, warnings, sources)

    eot_markers = rec.observations["end_of_frontline_therapy"] + rec.eot_procedures
    eot_markers = [m for m in eot_markers if not obs.states_absent(m, codes)]
    therapy = frontline_therapy(eot_markers, rec.care_plans, first_relapse, codes)
    sources.update(therapy.sources)
    warnings.extend(therapy.warnings)
    if rel.relapsed and therapy.end_of_therapy is None and therapy.on_therapy is None:
        warnings.append("end of frontline therapy not documented")

    hsct_dates, prior_hsct = _hsct(
        rec,
        facts=facts,
        relapse=first_relapse,
        relapsed=rel.relapsed,
        warnings=warnings,
        sources=sources,
    )
    refractory, refractory_latest = _refractory(rec, facts, first_relapse, day0, sources)

    return RelapseInputs(
        patient=patient_ref,
        has_all=rel.has_all,
        relapsed=rel.relapsed,
        lineage=lineage,
        birth_date=birth_date,
        sex=sex,
        diagnosis_date=rel.diagnosis_date,
        relapse_date=first_relapse,
        relapse_dates=rel.relapse_dates,
        relapse_count=len(rel.relapse_dates) if rel.relapse_dates else int(rel.relapsed),
        end_of_therapy=therapy.end_of_therapy,
        on_therapy=therapy.on_therapy,
        sites=rel.sites,
        sites_from_text=rel.sites_from_text,
        sites_incomplete=rel.sites_incomplete,
        other_sites=rel.other_sites,
        marrow_blasts=blasts,
        mrd=mrd,
        mrd_series=series,
        genetics=genetics,
        prior_hsct=prior_hsct,
        hsct_dates=hsct_dates,
        refractory=refractory,
        refractory_latest=refractory_latest,
        unread=tuple(dict.fromkeys(rec.unread)),
        unconfirmed=rel.unconfirmed,
        sources=sources,
        preliminary=_preliminary(rec, sources),
        warnings=tuple(dict.fromkeys(warnings)),
        ignored=rec.ignored,
        day0_candidates=candidates,
        site_disease=tuple(d for f in facts if (d := cond.site_disease(f)) is not None),
        unread_disease=(
            *rec.unread_disease,
            *(u for f in facts if (u := cond.undated_disease(f)) is not None),
        ),
    )


def _preliminary(rec: _Record, sources: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    """The preliminary Observations some input was read from (MRD aside: its flag marks it)."""
    found = {
        ref(o)
        for kind in _MARKED_KINDS
        for o in rec.observations[kind]
        if o.get("status") == "preliminary"
    }
    if not found:
        return frozenset()
    read = {r for name, refs in sources.items() if name not in ("mrd", "mrd_series") for r in refs}
    return frozenset(found & read)


def _mrd(
    rec: _Record,
    relapse: date | None,
    warnings: list[str],
    sources: dict[str, tuple[str, ...]],
) -> tuple[Mrd | None, tuple[Mrd, ...]]:
    results = mrd_results.read_results(rec.observations["mrd"], rec.codes, rec.specimens)
    every, marrow = mrd_results.measurements(results)
    warnings.extend(m.problem for m in every if m.problem)
    series = tuple(m.mrd for m in every if m.mrd is not None)
    if series:
        sources["mrd_series"] = tuple(m.source for m in series if m.source)
    if relapse is None:
        return None, series
    first = _first_after_relapse(marrow, relapse)
    if first is not None and first.mrd is not None:
        sources["mrd"] = tuple(dict.fromkeys((first.mrd.source or "", *first.sources)))
    elif first is not None:
        # Never the next one: the first marrow MRD after induction is the one that counts.
        warnings.append(
            f"the first marrow MRD 21-60 days after the relapse ({', '.join(first.sources)}) "
            "cannot be read: post-induction MRD unknown"
        )
    elif every:
        warnings.append(
            "no marrow MRD dated 21-60 days after the relapse: post-induction MRD unknown"
        )
    return (first.mrd if first else None), series


def _first_after_relapse(
    marrow: list[mrd_results.Measurement], relapse: date
) -> mrd_results.Measurement | None:
    """The first marrow MRD in the post-induction window (none when it is past 9999-12-31)."""
    try:
        start = relapse + MRD_WINDOW[0]
    except OverflowError:
        return None
    try:
        end = relapse + MRD_WINDOW[1]
    except OverflowError:
        end = date.max
    dated = [m for m in marrow if m.when is not None and start <= m.when <= end]
    return dated[0] if dated else None


def _blasts(
    rec: _Record,
    relapse: date | None,
    warnings: list[str],
    sources: dict[str, tuple[str, ...]],
) -> float | None:
    if relapse is None:
        return None
    best: tuple[int, date, float, str] | None = None
    for o in rec.observations["marrow_blasts"]:
        when = obs.observation_date(o)
        if when is None or abs((when - relapse).days) > BLAST_WINDOW.days:
            continue
        reading = obs.read_blasts(o)
        if reading.problem is not None:
            warnings.append(reading.problem)
        if reading.percent is None:
            continue
        candidate = (abs((when - relapse).days), when, reading.percent, ref(o))
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    if best is None:
        return None
    sources["marrow_blasts"] = (best[3],)
    return best[2]


def _genetics(
    rec: _Record,
    facts: list[cond.ConditionFacts],
    warnings: list[str],
    sources: dict[str, tuple[str, ...]],
) -> Genetics:
    present: set[str] = set()
    absent: set[str] = set()
    unknown: set[str] = set()
    refs: list[str] = []
    evaluated = False

    def not_absent(source: str, markers: frozenset[str]) -> None:
        # A result that could not be read makes none of its markers absent (issue 12).
        if markers:
            unknown.update(markers)
            warnings.append(
                f"{source}: could not be read for {', '.join(sorted(markers))}; "
                "this result makes none of them absent"
            )

    for o in rec.observations["karyotype"]:
        text = obs.karyotype_text(o)
        k = obs.parse_karyotype(text, rec.codes) if text else None
        if k is None or not k.read:
            warnings.append(f"{ref(o)}: karyotype not understood (ISCN expected)")
            not_absent(ref(o), frozenset(obs.KARYOTYPE_MARKERS) | (k.unknown if k else frozenset()))
            continue
        evaluated = True
        refs.append(ref(o))
        present.update(k.present)
        absent.update(k.explicit - k.present)
        not_absent(ref(o), k.unknown)
    for o in rec.observations["genomic_variant"]:
        result = obs.read_genomic(o, rec.codes)
        if result.problem is not None:
            warnings.append(result.problem)
        not_absent(ref(o), result.unknown)
        if not result.evaluated:
            continue
        evaluated = True
        refs.append(ref(o))
        for marker, status in result.markers.items():
            (present if status is MarkerStatus.PRESENT else absent).add(marker)
    for f in facts:
        if f.markers:
            present.update(f.markers)
            refs.append(f.ref)
    # Present wins over absent; a result saying absent wins over one that could not be read.
    markers = dict.fromkeys(unknown, MarkerStatus.NOT_TESTED)
    markers.update(dict.fromkeys(absent, MarkerStatus.ABSENT))
    markers.update(dict.fromkeys(present, MarkerStatus.PRESENT))
    if refs:
        sources["genetics"] = tuple(dict.fromkeys(refs))
    return Genetics(evaluated=evaluated, markers=markers, explicit=frozenset(present | absent))


def _hsct(
    rec: _Record,
    *,
    facts: list[cond.ConditionFacts],
    relapse: date | None,
    relapsed: bool,
    warnings: list[str],
    sources: dict[str, tuple[str, ...]],
) -> tuple[tuple[date, ...], bool]:
    events, not_completed = hsct_events(
        rec.hsct_procedures, [(f.ref, f.date) for f in facts if f.hsct]
    )
    if not_completed:
        warnings.append(
            f"{', '.join(not_completed)}: an HSCT procedure not completed; not a prior HSCT"
        )
    dated = sorted({d for d, _ in events if d is not None})
    if events:
        sources["hsct_dates"] = tuple(r for _, r in events)
    before = [r for d, r in events if d is not None and relapse is not None and d < relapse]
    if before:
        sources["prior_hsct"] = tuple(before)
    elif events and relapsed and (relapse is None or any(d is None for d, _ in events)):
        warnings.append(
            "an HSCT is documented but cannot be placed before the relapse "
            f"({', '.join(r for _, r in events)}): prior HSCT not counted"
        )
    return tuple(dated), bool(before)


def _refractory(
    rec: _Record,
    facts: list[cond.ConditionFacts],
    relapse: date | None,
    day0: date | None,
    sources: dict[str, tuple[str, ...]],
) -> tuple[bool, date | None]:
    """Whether refractory disease is coded, and the latest date of that evidence (None when
    any of it is undated): a CR on day 28 decides only over what it follows."""
    found = [(f.ref, f.date) for f in facts if f.refractory]
    found += [
        (ref(o), obs.observation_date(o))
        for o in rec.observations["refractory"]
        if not obs.states_absent(o, rec.codes)
    ]
    if relapse is not None:
        # C91.00 ("not having achieved remission") means refractory only once reinduction had its
        # time: after day 28, or 35 days after the relapse when day 0 is unknown. A documented
        # CR on day 28 (risk-schemes §7) decides over it: the domain's response reading does.
        found += [
            (f.ref, f.date)
            for f in facts
            if f.not_in_remission
            and f.date is not None
            and (
                f.date - day0 > REFRACTORY_DAY28
                if day0 is not None
                else f.date - relapse >= REFRACTORY_NO_DAY0
            )
        ]
    if not found:
        return False, None
    sources["refractory"] = tuple(r for r, _ in found)
    dates = [d for _, d in found]
    return True, None if None in dates else max(d for d in dates if d is not None)
