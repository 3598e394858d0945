"""Evidence figures for cards (risk-schemes.md §6), and which ones fit an assessment.

Selection is by the population each figure describes, using only facts known for this patient.
It chooses what to show; it never scores.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.assessment import Addition, Plan, Timing
from service.domain.inputs import Lineage, Site
from service.domain.response import Response
from service.domain.timing import EARLY, LATE, VERY_EARLY

# The papers as a clinician cites them (risk-schemes.md §6), never as file names.
CALL_0603 = "CALL-0603 trial, J Korean Med Sci 2017;32(4):642, doi:10.3346/jkms.2017.32.4.642"
REVIEW = (
    "Sidhu J, Gogoi MP, Krishnan S, Saha V. Relapsed Acute Lymphoblastic Leukemia (review, 2023)"
)
YOO = "Yoo KH et al., Clin Pediatr Hematol Oncol 2017;24:101-6"


@dataclass(frozen=True, slots=True)
class Evidence:
    id: str
    figure: str
    source: str


EVIDENCE: tuple[Evidence, ...] = (
    Evidence(
        "EV-CALL-1",
        "CR2 after 4 weeks 72.7 %; early (< 24 mo) 54.2 %, late 95.0 %; final CR2 84.1 %; "
        "induction death 2.3 %",
        CALL_0603,
    ),
    Evidence(
        "EV-CALL-2",
        "5-y EFS/OS: all 22.2 %/27.3 %; early 4.2 %/8.3 %; late 43.8 %/50.0 %",
        CALL_0603,
    ),
    Evidence(
        "EV-CALL-3",
        "late relapse EFS by early response: RER 100 %, SER 33.3 %, induction failure 0 %",
        CALL_0603,
    ),
    Evidence(
        "EV-COG-1",
        "5-y OS, relapse < 18 mo: isolated marrow 11 %, combined 11.5 %, isolated CNS 43.5 %; "
        "late: 43.5 %, 60 %, 78 %",
        f"{REVIEW}, ref 13",
    ),
    Evidence(
        "EV-COG-2",
        "5-y survival isolated CNS very early/early/late 44/68/78 %; isolated testis 14/52/60 %",
        f"{REVIEW}, ref 13",
    ),
    Evidence(
        "EV-R3-1",
        "late BCP marrow relapse with low post-induction MRD: EFS ~72 % without HSCT",
        f"{REVIEW}, refs 2, 17",
    ),
    Evidence(
        "EV-R3-2",
        "early/very early BCP marrow and T marrow relapse: 22.6 % and 26.2 %",
        f"{REVIEW}, ref 8",
    ),
    Evidence("EV-AALL0433", "late marrow, MRD < 1e-3: 3-y EFS 84.9 %", f"{REVIEW}, ref 18"),
    Evidence(
        "EV-AALL1331",
        "blinatumomab vs chemotherapy: DFS 59 vs 41 %, OS 79 vs 59 %",
        f"{REVIEW}, ref 12",
    ),
    Evidence("EV-HSCT-MRD", "pre-HSCT MRD < 1e-3: EFS 39 %; ≥ 1e-3: 18 %", f"{REVIEW}, ref 21"),
    Evidence("EV-T-HSCT", "T-ALL relapse after HSCT: DFS 51.6 %, OS 55.4 %", f"{REVIEW}, ref 8"),
    Evidence(
        "EV-RR-1",
        "R/R ALL: CR 38.1 %, OR 42.9 %, 5-y OS 6.7 %; HSCT 35.2 % vs 0 %; "
        "CR/CRp before HSCT 3-y 46.9 %",
        YOO,
    ),
)
BY_ID: dict[str, Evidence] = {e.id: e for e in EVIDENCE}


def select_evidence(
    lineage: Lineage | None,
    *,
    timing: Timing,
    marrow: bool | None,
    sites: frozenset[Site] | None,
    plan: Plan,
    additions: tuple[Addition, ...],
) -> tuple[str, ...]:
    """EV-* ids whose population matches what is known; `sites` is None unless fully known."""
    if plan == Plan.RELAPSED_REFRACTORY:
        # The first-relapse cohorts do not describe relapsed/refractory disease.
        return ("EV-RR-1",)
    chosen: set[str] = set()
    isolated_cns = sites == frozenset({Site.CNS})
    if marrow and timing.call0603 in (EARLY, LATE):
        chosen |= {"EV-CALL-1", "EV-CALL-2"}
        if timing.call0603 == LATE:
            chosen.add("EV-CALL-3")
    if marrow or isolated_cns:
        chosen.add("EV-COG-1")
    if isolated_cns or sites == frozenset({Site.TESTIS}):
        chosen.add("EV-COG-2")
    if marrow and lineage is Lineage.B and timing.bfm == LATE:
        chosen |= {"EV-R3-1", "EV-AALL0433"}
    if marrow and (
        lineage is Lineage.T or (lineage is Lineage.B and timing.bfm in (VERY_EARLY, EARLY))
    ):
        chosen.add("EV-R3-2")
    if Addition.BLINATUMOMAB in additions:
        chosen.add("EV-AALL1331")
    hsct = plan == Plan.CHEMOTHERAPY_THEN_HSCT or Addition.HSCT_REGARDLESS_OF_MRD in additions
    if hsct:
        chosen.add("EV-HSCT-MRD")
    if hsct and lineage is Lineage.T:
        chosen.add("EV-T-HSCT")
    return tuple(e.id for e in EVIDENCE if e.id in chosen)


def response_evidence(response: Response | None, timing: Timing) -> tuple[str, ...]:
    """The evidence shown with the response (§7): with CR, EV-CALL-3 for a late relapse
    (TIME-CALL). The card and the app both show it from here."""
    late = timing.call0603 == LATE
    return ("EV-CALL-3",) if response is not None and response.cr2 is True and late else ()
