"""The record the response to reinduction reads (mappings.orders.read_record; risk-schemes §7)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mappings.codesets import CodeSets
from mappings.orders import read_record
from service.domain.inputs import Site
from service.domain.orders import OrderRecord, Unread
from service.engine import prefetch_templates
from tests.mappings.builders import CLIN, CM, SCT, cc, condition, diagnosis, patient, relapse
from tests.service.order_builders import (
    DAY0,
    anc,
    day,
    marrow,
    quantity,
    record,
    reinduction_plan,
)


def _read(codes: CodeSets, *resources: dict[str, Any]) -> OrderRecord:
    return read_record([*record(), *resources], codes, patient_id="p")


def _with(r: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**r, **fields}


def test_marrows_of_one_day_resolve_by_status(codes: CodeSets) -> None:
    # As for MRD (mappings.mrd): amended/corrected over final over preliminary.
    preliminary = _with(marrow(2, day(28), "pre"), status="preliminary")
    final = marrow(40, day(28), "fin")
    amended = _with(marrow(12, day(28), "amd"), status="amended")
    read = _read(codes, preliminary, final)
    assert [(v.value, v.source) for v in read.marrow_blasts] == [(Decimal(40), "Observation/fin")]
    read = _read(codes, final, amended, preliminary)
    assert [v.source for v in read.marrow_blasts] == ["Observation/amd"]
    assert read.unread == ()


def test_equals_of_one_day_order_by_issued_else_are_unread(codes: CodeSets) -> None:
    a = _with(marrow(2, day(28), "a"), issued="2026-03-02T10:00:00Z")
    b = _with(marrow(40, day(28), "b"), issued="2026-03-01T10:00:00Z")
    assert [v.source for v in _read(codes, a, b).marrow_blasts] == ["Observation/a"]
    read = _read(codes, marrow(2, day(28), "a"), marrow(40, day(28), "b"))
    assert read.marrow_blasts == ()
    assert [(u.kind, u.date, u.source) for u in read.unread_values] == [
        ("marrow_blasts", DAY0 + timedelta(days=28), "Observation/a, Observation/b"),
    ]


def test_unreadable_marrows_and_counts_keep_their_date(codes: CodeSets) -> None:
    bad_marrow = _with(marrow(2, day(28), "bm"), valueQuantity={"value": 2, "code": "mg"})
    bad_count = anc(1200, unit="cells", on=day(29))
    undated = {k: v for k, v in marrow(2, rid="undated").items() if k != "effectiveDateTime"}
    read = _read(codes, bad_marrow, bad_count, undated)
    assert set(read.unread_values) == {
        Unread(
            "marrow_blasts",
            DAY0 + timedelta(days=28),
            "Observation/bm",
            "Observation/bm: marrow blasts unit not understood (expected %)",
        ),
        Unread(
            "anc",
            DAY0 + timedelta(days=29),
            "Observation/anc",
            "Observation/anc (value or unit not understood)",
        ),
        Unread("marrow_blasts", None, "Observation/undated", "Observation/undated (no date)"),
    }
    assert read.unread == ()  # only a part of the record not fetched at all stops every check


def test_a_count_keeps_its_comparator_and_anything_else_must_be_exact(codes: CodeSets) -> None:
    low = anc(0.1, unit="10*9/L", on=day(14))
    low["valueQuantity"]["comparator"] = "<"
    blasts = _circulating("pb", 1)
    blasts["valueQuantity"]["comparator"] = "<"
    odd = anc(100, on=day(15))
    odd["valueQuantity"]["comparator"] = "ad"  # not an R4 comparator
    read = _read(codes, low, blasts, _with(odd, id="odd"))
    assert [(v.value, v.comparator) for v in read.anc] == [(Decimal("100.0"), "<")]
    assert read.circulating_blasts == ()
    assert {u.source for u in read.unread_values} == {"Observation/pb", "Observation/odd"}


def _circulating(rid: str, value: float, unit: str = "%") -> dict[str, Any]:
    return quantity(rid, "709-6", value, unit, day(28))


def test_circulating_blasts_are_read_from_loinc_709_6_in_percent(codes: CodeSets) -> None:
    read = _read(codes, _circulating("pb", 4))
    assert [(v.value, v.source) for v in read.circulating_blasts] == [
        (Decimal(4), "Observation/pb")
    ]
    read = _read(codes, _circulating("unit", 4, "10*3/uL"), _circulating("range", 140))
    assert read.circulating_blasts == ()
    assert {u.source for u in read.unread_values if u.kind == "circulating_blasts"} == {
        "Observation/unit",
        "Observation/range",
    }


def test_the_prefetch_asks_for_circulating_blasts(codes: CodeSets) -> None:
    assert "http://loinc.org|709-6" in prefetch_templates(codes)["observations"]


# Extramedullary disease at day 28 (fhir-contract.md, "Reinduction and its response"): an ALL
# Condition that stands, clinicalStatus active/recurrence/relapse, naming an extramedullary site.
CNS_SITE = [cc(SCT, "21483005")]


def _disease(rid: str = "emd", status: str | None = "active", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"onsetDateTime": day(28), "bodySite": CNS_SITE, **extra}
    if status is not None:
        fields["clinicalStatus"] = cc(CLIN, status)
    return condition(rid, (SCT, "91857003"), **fields)


def _cns_relapse(codes: CodeSets, *resources: dict[str, Any]) -> OrderRecord:
    rel = relapse("rel", "2026-01-28", "14016003", "21483005") | {
        "clinicalStatus": cc(CLIN, "relapse")
    }
    return read_record(
        [patient(), diagnosis(), rel, reinduction_plan(), *resources], codes, patient_id="p"
    )


def _unconfirmed(code: str) -> dict[str, Any]:
    return cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", code)


@pytest.mark.parametrize(
    ("resource", "read"),
    [
        pytest.param(_disease(), True, id="active"),
        pytest.param(_disease(status="recurrence"), True, id="recurrence"),
        pytest.param(_disease(status="relapse"), True, id="relapse"),
        pytest.param(_disease(status="remission"), False, id="remission"),
        pytest.param(_disease(status="resolved"), False, id="resolved"),
        pytest.param(_disease(status="inactive"), False, id="inactive"),
        pytest.param(_disease(status=None), False, id="no-clinical-status"),
        pytest.param(
            condition(
                "emd",
                (CM, "C91.01"),
                clinicalStatus=cc(CLIN, "active"),
                onsetDateTime=day(28),
                bodySite=CNS_SITE,
            ),
            False,
            id="coded-in-remission",
        ),
        pytest.param(_disease(verificationStatus=_unconfirmed("refuted")), False, id="refuted"),
        pytest.param(
            _disease(verificationStatus=_unconfirmed("entered-in-error")),
            False,
            id="entered-in-error",
        ),
        pytest.param(
            _disease(verificationStatus=_unconfirmed("differential")), False, id="differential"
        ),
        pytest.param(
            _disease(bodySite=[cc(SCT, "14016003")]), False, id="marrow-is-judged-by-blasts"
        ),
        pytest.param(_disease(bodySite=[{"text": "no CNS involvement"}]), False, id="negated"),
        pytest.param(_disease(bodySite=[{"text": "CSF"}]), True, id="site-read-from-text"),
        pytest.param(_disease(bodySite=None), False, id="no-site"),
        pytest.param(
            condition(
                "emd",
                (SCT, "7180009"),  # meningitis: not a Condition of the leukaemia
                clinicalStatus=cc(CLIN, "active"),
                onsetDateTime=day(28),
                bodySite=CNS_SITE,
            ),
            False,
            id="not-an-all-condition",
        ),
    ],
)
def test_conditions_naming_extramedullary_disease(
    codes: CodeSets, resource: dict[str, Any], read: bool
) -> None:
    resource = {k: v for k, v in resource.items() if v is not None}
    found = [d for d in _cns_relapse(codes, resource).site_disease if d.source != "Condition/rel"]
    assert [d.source for d in found] == (["Condition/emd"] if read else [])
    if read:
        assert found[0].sites == frozenset({Site.CNS})
        assert found[0].date == DAY0 + timedelta(days=28)


def test_disease_is_dated_as_the_relapse_mapping_dates_conditions(codes: CodeSets) -> None:
    recorded = {"recordedDate": day(30)}
    other = {k: v for k, v in _disease().items() if k != "onsetDateTime"} | recorded
    read = _cns_relapse(codes, other)
    assert {d.source: d.date for d in read.site_disease}["Condition/emd"] == DAY0 + timedelta(
        days=30
    )
    # A relapse Condition is dated by its onset only (its recordedDate is when it was written).
    written_late = {k: v for k, v in _disease(status="relapse").items() if k != "onsetDateTime"}
    late = _cns_relapse(codes, written_late | recorded).site_disease
    assert [d.source for d in late] == ["Condition/rel"]


def test_the_relapse_and_its_sites_reach_the_response(codes: CodeSets) -> None:
    read = _cns_relapse(codes, _disease(verificationStatus=_unconfirmed("provisional")))
    assert read.relapse_sites == frozenset({Site.MARROW, Site.CNS})
    assert read.relapse_conditions == ("Condition/rel",)
    # The relapse Condition names CNS too, dated at the relapse: day 28 never reads it (domain).
    assert {d.source: d.confirmed for d in read.site_disease} == {
        "Condition/rel": True,
        "Condition/emd": False,
    }


def test_an_unreadable_all_condition_naming_a_site_is_kept_with_its_date(codes: CodeSets) -> None:
    # A Condition that fails validation is not read; one of the leukaemia naming an
    # extramedullary site could be day-28 disease, so the response names it (domain).
    broken = _disease("bad", abatementString=["not a string"])
    marrow_only = _disease("marrow", bodySite=[cc(SCT, "14016003")], abatementString=[1])
    read = _cns_relapse(codes, broken, marrow_only)
    assert "Condition/bad" in read.unread_conditions
    assert [u for u in read.unread_values if u.kind == "site_disease"] == [
        Unread("site_disease", DAY0 + timedelta(days=28), "Condition/bad")
    ]


def test_an_undated_condition_naming_a_site_is_kept_as_not_read(codes: CodeSets) -> None:
    # With no date it cannot be placed against day 28, yet it could be disease there: kept as a
    # value not read (the response names it), as an undated marrow is; never dropped.
    undated = {k: v for k, v in _disease().items() if k != "onsetDateTime"}
    read = _cns_relapse(codes, undated)
    assert [d.source for d in read.site_disease] == ["Condition/rel"]
    assert [u for u in read.unread_values if u.kind == "site_disease"] == [
        Unread("site_disease", None, "Condition/emd")
    ]
