"""Evidence selection by population (risk-schemes.md §6)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from service.domain import assess
from service.domain.evidence import BY_ID, EVIDENCE
from service.domain.inputs import Lineage, Site
from tests.domain.builders import make_inputs, mrd

AS_OF = date(2026, 1, 1)
SPEC = Path(__file__).resolve().parents[2] / "docs/clinical/risk-schemes.md"
# §6: "Cards and the app name sources as a clinician would cite them, never as file names".
CITED_AS = {
    "000": "Yoo KH et al., Clin Pediatr Hematol Oncol 2017;24:101-6",
    "002": "CALL-0603 trial, J Korean Med Sci 2017;32(4):642, doi:10.3346/jkms.2017.32.4.642",
    "004": "Sidhu J, Gogoi MP, Krishnan S, Saha V. Relapsed Acute Lymphoblastic Leukemia "
    "(review, 2023)",
}


def _spec_rows() -> list[tuple[str, str, str]]:
    section = SPEC.read_text(encoding="utf-8").split("## 6.")[1].split("\n## ")[0]
    return re.findall(r"^\| (EV-[\w-]+) \| (.+?) \| (.+?) \|$", section, re.MULTILINE)


@pytest.mark.parametrize(("ev", "figure", "source"), _spec_rows(), ids=lambda v: v[:12])
def test_each_figure_cites_its_paper_as_section_6_names_it(
    ev: str, figure: str, source: str
) -> None:
    cited = re.fullmatch(r"seed `(\d{3})_…`(?: (refs? [\d, ]+))?", source)
    assert cited is not None, source
    paper, refs = cited.groups()
    expected = CITED_AS[paper] + (f", {refs}" if refs else "")
    assert (BY_ID[ev].figure, BY_ID[ev].source) == (figure, expected)


def test_table_is_complete() -> None:
    assert len(BY_ID) == len(EVIDENCE) == 12


def test_late_b_marrow_relapse() -> None:
    ev = assess(make_inputs("late", "isolated_marrow"), AS_OF).pathway.evidence
    assert {"EV-R3-1", "EV-AALL0433", "EV-CALL-1", "EV-CALL-2", "EV-CALL-3"} <= set(ev)
    assert "EV-R3-2" not in ev
    assert "EV-COG-2" not in ev


def test_isolated_testis_relapse() -> None:
    inputs = make_inputs("early", sites=frozenset({Site.TESTIS}))
    ev = assess(inputs, AS_OF).pathway.evidence
    assert "EV-COG-2" in ev
    assert not any(e.startswith("EV-CALL") for e in ev)


def test_blinatumomab_and_hsct() -> None:
    ev = assess(make_inputs("very_early", "isolated_marrow"), AS_OF).pathway.evidence
    assert {"EV-AALL1331", "EV-HSCT-MRD", "EV-R3-2"} <= set(ev)
    assert "EV-CALL-3" not in ev  # CALL-0603 early relapse (< 24 months)


def test_t_lineage_hsct() -> None:
    inputs = make_inputs("late", "isolated_marrow", lineage=Lineage.T, mrd=mrd(1e-5))
    assert "EV-T-HSCT" in assess(inputs, AS_OF).pathway.evidence


def test_relapsed_refractory() -> None:
    ev = assess(make_inputs(relapse_count=2), AS_OF).pathway.evidence
    assert ev == ("EV-RR-1",)
