"""InPOG-ALL-R1 (`INPOG`; risk-schemes.md §3.5): high if any criterion holds, else standard."""

from __future__ import annotations

from collections.abc import Callable

from service.domain.facts import DIMENSIONS, Facts
from service.domain.inputs import Lineage, Site
from service.domain.schemes.cell import Cell, first_relapse_only
from service.domain.schemes.scheme import Scheme
from service.domain.timing import EARLY, LATE, VERY_EARLY
from service.domain.words import marker_names

RULE = "INPOG"
MRD_THRESHOLD = 1e-4

# The world dimensions (facts.Space) this scheme reads: all of them but refractory, which
# decides the plan (PATH-1), never a group.
READS = DIMENSIONS - {"refractory"}


def _isolated_testis_b(f: Facts) -> bool:
    return f.lineage is Lineage.B and f.sites == {Site.TESTIS}


# The high-risk criteria in the spec's order; the first that holds names the reason.
HIGH_RISK: tuple[tuple[str, Callable[[Facts], bool]], ...] = (
    ("mixed phenotype (MPAL)", lambda f: f.lineage is Lineage.MPAL),
    ("high-risk genetics", lambda f: f.high_risk_genetics),
    ("age ≥ 15 years at diagnosis", lambda f: f.age15),
    ("very early relapse", lambda f: f.timing_bfm == VERY_EARLY),
    ("T lineage with marrow involved", lambda f: f.lineage is Lineage.T and f.marrow),
    ("early relapse with marrow involved", lambda f: f.timing_bfm == EARLY and f.marrow),
    (
        "early isolated extramedullary relapse other than isolated testicular B lineage",
        lambda f: f.timing_bfm == EARLY and not f.marrow and not _isolated_testis_b(f),
    ),
    (
        "late B lineage relapse with marrow involved and post-induction MRD ≥ 1e-4",
        lambda f: (
            f.timing_bfm == LATE
            and f.lineage is Lineage.B
            and f.marrow
            and not f.mrd.below(MRD_THRESHOLD)
        ),
    ),
)


def classify(f: Facts) -> Cell:
    excluded = first_relapse_only(f, RULE, "InPOG-ALL-R1")
    if excluded:
        return excluded
    for reason, holds in HIGH_RISK:
        if holds(f):
            return Cell("high", RULE, f"{reason[0].upper()}{reason[1:]} → high")
    if not f.marrow:
        cell = "isolated extramedullary" if f.timing_bfm == LATE else "isolated testicular B"
    else:
        cell = "B lineage marrow, MRD < 1e-4"
    timing = "late" if f.timing_bfm == LATE else "early"
    # FHIR contract, "Observations": a standard that rests on such absences names them.
    notes = (
        (f"Standard rests on high-risk markers no result covered: {marker_names(uncovered)}.",)
        if (uncovered := f.uncovered)
        else ()
    )
    return Cell(
        "standard",
        RULE,
        f"{timing.capitalize()} {cell}, no high-risk genetics, age < 15 → standard",
        notes,
    )


SCHEME = Scheme(
    key="inpog",
    title="InPOG-ALL-R1",
    full_title="InPOG-ALL-R1",
    rule=RULE,
    reads=READS,
    classify=classify,
    plans={"standard": "PATH-2", "high": "PATH-4"},
    mrd_threshold=MRD_THRESHOLD,
)
