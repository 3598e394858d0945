"""Genetics as real systems write it (issue 12): HL7 Genomics Reporting variants with components,
HGNC symbols/OIDs, ISCN with `nuc ish`, and results the reader cannot understand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.extract import extract
from service.cards import build_cards
from service.domain.inputs import MarkerStatus
from service.engine import assess_resources
from tests.mappings.builders import HGNC, LOINC, SCT, cc, late_marrow_relapse, observation

GENE_ID = "http://www.genenames.org/geneId"
AS_OF = date(2021, 7, 1)


def _karyotype(iscn: str, rid: str = "k") -> dict[str, Any]:
    return observation(rid, cc(LOINC, "62356-1"), "2018-03-12", valueString=iscn)


def _gr_variant(rid: str, genes: list[dict[str, Any]], answer: str = "LA9633-4") -> dict[str, Any]:
    """A Genomics Reporting IG variant: category, gene-studied components, genomic source class."""
    components = [
        {"code": cc(LOINC, "48018-6"), "valueCodeableConcept": {"coding": [g]}} for g in genes
    ]
    components.append(
        {
            "code": cc(LOINC, "48002-0"),
            "valueCodeableConcept": {
                "coding": [{"system": LOINC, "code": "LA6684-0", "display": "Somatic"}]
            },
        }
    )
    r = observation(
        rid,
        {"coding": [{"system": LOINC, "code": "69548-6"}], "text": "Genetic variant assessment"},
        "2018-03-14",
        component=components,
        valueCodeableConcept={
            "coding": [{"system": LOINC, "code": answer}],
            "text": "Present" if answer == "LA9633-4" else "Absent",
        },
    )
    r["category"] = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory",
                }
            ]
        }
    ]
    r["meta"] = {
        "profile": ["http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/variant"]
    }
    return r


def _inpog(resources: list[dict[str, Any]], codes: CodeSets) -> str:
    result = assess_resources(resources, codes=codes, primary="inpog", as_of=AS_OF)
    group: str = result.assessment.to_json()["schemes"]["inpog"]["group"]
    return group


# A late B-lineage marrow relapse with MRD < 1e-4: InPOG standard unless genetics say otherwise.
def _standard_risk_case() -> list[dict[str, Any]]:
    mrd = observation(
        "m", cc("urn:relapse-all-cds:concept", "mrd"), "2021-07-20", valueString="<0.001%"
    )
    eot = observation(
        "eot", cc("urn:relapse-all-cds:concept", "end-of-frontline-therapy"), "2020-05-01"
    ) | {"valueBoolean": True}
    return [*late_marrow_relapse(), mrd, eot]


@pytest.mark.parametrize(
    "genes",
    [
        [{"system": HGNC, "code": "BCR"}, {"system": HGNC, "code": "ABL1"}],
        [
            {"system": GENE_ID, "code": "HGNC:1014", "display": "BCR"},
            {"system": GENE_ID, "code": "HGNC:76", "display": "ABL1"},
        ],
        [
            {"system": "urn:oid:2.16.840.1.113883.6.281", "code": "HGNC:1014"},
            {"system": "urn:oid:2.16.840.1.113883.6.281", "code": "HGNC:76"},
        ],
    ],
)
def test_bcr_abl1_positive_beside_a_normal_karyotype_is_present(
    codes: CodeSets, genes: list[dict[str, Any]]
) -> None:
    resources = [*_standard_risk_case(), _karyotype("46,XY[20]"), _gr_variant("v", genes)]
    g = extract(resources, codes).genetics
    assert g.status("BCR-ABL1") is MarkerStatus.PRESENT
    assert _inpog(resources, codes) == "high"


def test_fish_fusion_beside_a_normal_karyotype_is_present(codes: CodeSets) -> None:
    resources = [
        *_standard_risk_case(),
        _karyotype("46,XX[20].nuc ish(ABL1,BCR)x3(ABL1 con BCRx2)[176/200]"),
    ]
    assert extract(resources, codes).genetics.status("BCR-ABL1") is MarkerStatus.PRESENT
    assert _inpog(resources, codes) == "high"


def test_etv6_abl1_is_abl_class_high_risk(codes: CodeSets) -> None:
    genes = [
        {"system": GENE_ID, "code": "HGNC:3495", "display": "ETV6"},
        {"system": GENE_ID, "code": "HGNC:76", "display": "ABL1"},
    ]
    resources = [*_standard_risk_case(), _karyotype("46,XY[20]"), _gr_variant("v", genes)]
    inputs = extract(resources, codes)
    assert inputs.genetics.status("ABL-class") is MarkerStatus.PRESENT
    assert inputs.genetics.status("BCR-ABL1") is MarkerStatus.ABSENT
    assert inputs.genetics.status("ETV6-RUNX1") is MarkerStatus.ABSENT
    assert _inpog(resources, codes) == "high"
    # without the fusion the same case is standard: the fusion decides
    assert _inpog([*_standard_risk_case(), _karyotype("46,XY[20]")], codes) == "standard"


def test_a_present_result_that_cannot_be_read_makes_nothing_absent(codes: CodeSets) -> None:
    # The gene is coded in NCBI Gene (ABL1 = 25), which the reader does not know.
    unread = _gr_variant("v", [{"system": "http://www.ncbi.nlm.nih.gov/gene", "code": "25"}])
    resources = [*_standard_risk_case(), _karyotype("46,XY[20]"), unread]
    inputs = extract(resources, codes)
    for marker in ("BCR-ABL1", "ABL-class", "TP53"):
        assert inputs.genetics.status(marker) is MarkerStatus.NOT_TESTED
    # the karyotype still covers what it shows
    assert inputs.genetics.status("hypodiploidy") is MarkerStatus.ABSENT
    assert any(w.startswith("Observation/v: ") for w in inputs.warnings)
    assert _inpog(resources, codes) == "indeterminate"


def test_a_test_saying_absent_wins_over_a_result_that_cannot_be_read(codes: CodeSets) -> None:
    unread = _gr_variant("v", [{"system": HGNC, "code": "ABL1"}])  # ABL1 alone: which fusion?
    negative = _gr_variant(
        "pcr",
        [{"system": HGNC, "code": "HGNC:1014"}, {"system": HGNC, "code": "HGNC:76"}],
        "LA9634-2",
    )
    g = extract([*_standard_risk_case(), unread, negative], codes).genetics
    assert g.status("BCR-ABL1") is MarkerStatus.ABSENT
    assert g.status("ABL-class") is MarkerStatus.NOT_TESTED


def test_an_unreadable_karyotype_leaves_its_markers_unknown(codes: CodeSets) -> None:
    tp53 = _gr_variant("v", [{"system": GENE_ID, "code": "HGNC:11998"}], "LA9634-2")
    resources = [*_standard_risk_case(), tp53, _karyotype("see scanned report")]
    inputs = extract(resources, codes)
    assert inputs.genetics.evaluated
    assert inputs.genetics.status("TP53") is MarkerStatus.ABSENT
    for marker in ("BCR-ABL1", "hypodiploidy", "iAMP21", "KMT2A"):
        assert inputs.genetics.status(marker) is MarkerStatus.NOT_TESTED
    assert "Observation/k: karyotype not understood (ISCN expected)" in inputs.warnings


def test_fish_genes_without_a_pattern_are_never_absent(codes: CodeSets) -> None:
    resources = [*_standard_risk_case(), _karyotype("46,XY[20].nuc ish(ABL1,BCR)x2[200]")]
    inputs = extract(resources, codes)
    assert inputs.genetics.status("BCR-ABL1") is MarkerStatus.NOT_TESTED
    assert "BCR-ABL1" not in inputs.genetics.explicit
    assert inputs.genetics.status("hypodiploidy") is MarkerStatus.ABSENT
    assert _inpog(resources, codes) == "indeterminate"


def test_a_high_hyperdiploid_clone_is_listed_as_favourable(codes: CodeSets) -> None:
    iscn = "46,XX[6]/55,XX,+X,+4,+6,+10,+14,+17,+18,+21,+21[14]"
    inputs = extract([*_standard_risk_case(), _karyotype(iscn)], codes)
    assert inputs.genetics.status("high_hyperdiploidy") is MarkerStatus.PRESENT
    assert inputs.genetics.status("hypodiploidy") is MarkerStatus.ABSENT
    assert "high_hyperdiploidy" in inputs.genetics.present()


def test_icd_o_3_bcr_abl1_still_counts(codes: CodeSets) -> None:
    dx = {
        "resourceType": "Condition",
        "id": "dx",
        "subject": {"reference": "Patient/p"},
        "code": {
            "coding": [
                {"system": SCT, "code": "277571004"},
                {"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "9812/3"},
            ]
        },
        "onsetDateTime": "2018-03-10",
    }
    resources = [r for r in _standard_risk_case() if r.get("id") != "dx"] + [dx]
    assert extract(resources, codes).genetics.status("BCR-ABL1") is MarkerStatus.PRESENT


def _genetics_line(resources: list[dict[str, Any]], codes: CodeSets) -> str:
    result = assess_resources(resources, codes=codes, primary="inpog", as_of=AS_OF)
    lines = [
        line
        for card in build_cards(result, app_url=None)
        for line in (card.detail or "").splitlines()
        if line.startswith("- Genetics:")
    ]
    assert len(lines) == 1
    return lines[0]


def test_the_card_names_markers_a_result_could_not_be_read_for(codes: CodeSets) -> None:
    unread = _gr_variant("v", [{"system": HGNC, "code": "ABL1"}])
    line = _genetics_line([*_standard_risk_case(), _karyotype("46,XY[20]"), unread], codes)
    assert "could not be read" in line
    assert "BCR-ABL1" in line
    assert "could not be read" not in _genetics_line(
        [*_standard_risk_case(), _karyotype("46,XY[20]")], codes
    )
