"""CALL-0603 idarubicin checks (risk-schemes.md §9): the acceptance truth table per ORD-IDA-*.

Each case is FHIR in, cards out (mapping, domain and cards; no HTTP). Test ids cite the rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.models import Card, cards_response
from mappings.codesets import load_codesets
from service.hooks.base import HookEnv
from service.hooks.idarubicin_order_sign import check_drafts
from service.order_cards import FINDINGS_EXTENSION
from service.settings import Settings
from tests.service.order_builders import (
    DAY0,
    anc,
    bsa,
    day,
    draft,
    given,
    good_counts,
    height,
    marrow,
    platelets,
    record,
    weight,
)

ENV = HookEnv(settings=Settings(auth="none"), codes=load_codesets(), today=lambda: DAY0)


def cards(
    order: dict[str, Any], *extra: dict[str, Any], base: list[dict[str, Any]] | None = None
) -> list[Card]:
    resources = (record() if base is None else base) + list(extra)
    return check_drafts([order], resources, ENV, patient_id="p")


def rules(found: list[Card]) -> list[tuple[str, str]]:
    return [(c.extension[FINDINGS_EXTENSION]["rule"], c.indicator) for c in found if c.extension]


def ext(card: Card) -> dict[str, Any]:
    assert card.extension is not None
    return dict(card.extension[FINDINGS_EXTENSION])


# --- ORD-IDA-DOSE ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "unit", "size", "expected"),
    [
        pytest.param(10, "mg/m2", [], [], id="ORD-IDA-DOSE-10-per-m2"),
        pytest.param(12, "mg/m2", [], [("ORD-IDA-DOSE", "warning")], id="ORD-IDA-DOSE-12-per-m2"),
        pytest.param(10.01, "mg/m2", [], [("ORD-IDA-DOSE", "warning")], id="ORD-IDA-DOSE-10.01"),
        pytest.param(12, "mg", [bsa(1.2)], [], id="ORD-IDA-DOSE-mg-bsa-exactly-10"),
        pytest.param(
            15, "mg", [bsa(1.2)], [("ORD-IDA-DOSE", "warning")], id="ORD-IDA-DOSE-mg-bsa-12.5"
        ),
        # Mosteller: sqrt(120 cm x 30 kg / 3600) = 1.0 m2.
        pytest.param(10, "mg", [height(120), weight(30)], [], id="ORD-IDA-DOSE-mg-height-weight"),
        pytest.param(
            11,
            "mg",
            [height(120), weight(30)],
            [("ORD-IDA-DOSE", "warning")],
            id="ORD-IDA-DOSE-mg-hw-11",
        ),
        pytest.param(
            11,
            "mg",
            [height(120, on=day(-17)), weight(30)],
            [("ORD-IDA-DOSE", "info")],
            id="ORD-IDA-DOSE-height-31-days-old",
        ),
        pytest.param(
            11,
            "mg",
            [height(120, on=day(-16)), weight(30)],
            [("ORD-IDA-DOSE", "warning")],
            id="ORD-IDA-DOSE-height-30-days-old",
        ),
        pytest.param(10, "mg", [], [("ORD-IDA-DOSE", "info")], id="ORD-IDA-DOSE-mg-no-body-size"),
        pytest.param(
            10, "mL", [bsa(1.0)], [("ORD-IDA-DOSE", "info")], id="ORD-IDA-DOSE-unit-unknown"
        ),
    ],
)
def test_dose(dose: float, unit: str, size: list[dict[str, Any]], expected: list[Any]) -> None:
    assert rules(cards(draft(dose, unit), *size, *good_counts())) == expected


def test_dose_warning_suggests_the_same_order_at_10_per_m2() -> None:
    order = draft(12.5, "mg/m2")
    (card,) = cards(order, *good_counts())
    assert card.selection_behavior == "at-most-one"
    (action,) = card.suggestions[0].actions
    assert action.type == "update"
    assert action.resource is not None
    expected = {**order}
    expected["dosageInstruction"] = [
        {
            **order["dosageInstruction"][0],
            "doseAndRate": [
                {
                    "doseQuantity": {
                        **order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"],
                        "value": 10,
                    }
                }
            ],
        }
    ]
    assert action.resource == expected
    assert order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 12.5
    assert "12.5 mg/m²" in card.summary


def test_dose_in_mg_is_suggested_in_mg_at_10_per_m2() -> None:
    (card,) = cards(draft(15, "mg"), bsa(1.23), *good_counts())
    (action,) = card.suggestions[0].actions
    assert action.resource is not None
    quantity = action.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert quantity == {
        "value": 12.3,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    values = {v["label"]: v for v in ext(card)["values"]}
    assert values["Body surface area"] == {
        "label": "Body surface area",
        "value": "1.23 m²",
        "source": "Observation/bsa",
        "date": day(0),
    }


def test_no_body_size_says_the_check_cannot_be_made_and_suggests_nothing() -> None:
    (card,) = cards(draft(12, "mg"), *good_counts())
    assert card.indicator == "info"
    assert card.suggestions == ()
    assert "ORD-IDA-DOSE" in card.summary
    assert card.detail is not None
    assert "no body surface area" in card.detail


def test_the_latest_bsa_is_read() -> None:
    old, new = bsa(1.0, on=day(-40)), bsa(1.5, on=day(0))
    old["id"] = "bsa-old"
    # 12 mg: 12 mg/m2 over the old BSA, 8 over the latest.
    assert rules(cards(draft(12, "mg"), old, new, *good_counts())) == []


# --- ORD-IDA-COUNTS / M3 / NOLABS and the order day ---------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        pytest.param(13, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-day-13"),
        pytest.param(14, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-day-14"),
        pytest.param(15, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-day-15"),
        pytest.param(
            16, [("ORD-IDA-SCHEDULE", "info")], id="ORD-IDA-COUNTS-day-16-not-a-count-day"
        ),
        pytest.param(20, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-day-20"),
        pytest.param(21, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-day-21"),
        pytest.param(22, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-day-22"),
        pytest.param(7, [], id="ORD-IDA-COUNTS-day-7-not-checked"),
    ],
)
def test_order_day_with_low_counts(n: int, expected: list[Any]) -> None:
    low = [anc(300, on=day(n)), platelets(120_000, on=day(n))]
    assert rules(cards(draft(on=day(n)), *low)) == expected


@pytest.mark.parametrize("unit", ["/uL", "10*3/uL", "10*9/L"])
@pytest.mark.parametrize(
    ("anc_per_ul", "platelets_per_ul", "expected"),
    [
        pytest.param(499, 120_000, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-anc-499"),
        pytest.param(500, 120_000, [], id="ORD-IDA-COUNTS-anc-500"),
        pytest.param(1200, 49_999, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-plt-49999"),
        pytest.param(1200, 50_000, [], id="ORD-IDA-COUNTS-plt-50000"),
    ],
)
def test_count_limits_in_every_unit(
    unit: str, anc_per_ul: int, platelets_per_ul: int, expected: list[Any]
) -> None:
    factor = 1 if unit == "/uL" else 1000
    counts = [anc(anc_per_ul / factor, unit), platelets(platelets_per_ul / factor, unit)]
    assert rules(cards(draft(), *counts)) == expected


def test_counts_warning_suggests_deleting_the_draft_and_cites_the_values() -> None:
    (card,) = cards(draft(), anc(0.3, "10*9/L", on=day(13)), platelets(40, "10*3/uL", on=day(13)))
    (action,) = card.suggestions[0].actions
    assert (action.type, action.resource_id) == ("delete", "MedicationRequest/draft-ida")
    values = {v["label"]: v for v in ext(card)["values"]}
    assert values["ANC"] == {
        "label": "ANC",
        "value": "300 /µL",
        "source": "Observation/anc",
        "date": day(13),
    }
    assert values["Platelets"]["value"] == "40000 /µL"
    assert values["Reinduction day 0"]["source"] == "CarePlan/reinduction"
    assert "ANC 300/µL < 500" in card.summary
    assert "Platelets 40000/µL < 50000" in card.summary


OPEN = "ORD-IDA-COUNTS, ORD-IDA-NOLABS"  # the count checks, not made


def _written(resource: dict[str, Any], comparator: str) -> dict[str, Any]:
    resource["valueQuantity"]["comparator"] = comparator
    return resource


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Neutropenia is often resulted as "<100": below the limit, so the dose is withheld.
        pytest.param(
            [_written(anc(100), "<"), platelets(120_000)],
            [("ORD-IDA-COUNTS", "warning")],
            id="ORD-IDA-COUNTS-anc-less-than-100",
        ),
        pytest.param(
            [anc(1200), _written(platelets(10, "10*9/L"), "<")],
            [("ORD-IDA-COUNTS", "warning")],
            id="ORD-IDA-COUNTS-platelets-less-than-10e9",
        ),
        pytest.param(
            [_written(anc(500), "<"), platelets(120_000)],
            [("ORD-IDA-COUNTS", "warning")],
            id="ORD-IDA-COUNTS-anc-less-than-the-limit",
        ),
        # "<=500" may be 500 itself, "<800" anything below 800: neither says; §9 is silent on
        # such a count, so the count checks say they could not be made, naming it.
        pytest.param(
            [_written(anc(500), "<="), platelets(120_000)],
            [(OPEN, "info")],
            id="ORD-IDA-COUNTS-anc-at-most-the-limit-open",
        ),
        pytest.param(
            [_written(anc(800), "<"), platelets(120_000)],
            [(OPEN, "info")],
            id="ORD-IDA-COUNTS-anc-less-than-800-open",
        ),
        pytest.param(
            [_written(anc(1000), ">"), _written(platelets(100_000), ">=")],
            [],
            id="ORD-IDA-COUNTS-above-the-limits",
        ),
        # A missing count beside an open one: §9's NOLABS (the other does not withhold).
        pytest.param(
            [_written(anc(800), "<")],
            [("ORD-IDA-NOLABS", "warning")],
            id="ORD-IDA-NOLABS-open-anc-no-platelets",
        ),
        # The other count already withholds the dose.
        pytest.param(
            [_written(anc(800), "<"), platelets(20_000)],
            [("ORD-IDA-COUNTS", "warning")],
            id="ORD-IDA-COUNTS-open-anc-low-platelets",
        ),
    ],
)
def test_a_count_written_with_a_comparator_is_placed_against_the_limit(
    counts: list[dict[str, Any]], expected: list[Any]
) -> None:
    found = cards(draft(), *counts)
    assert rules(found) == expected
    if expected == [(OPEN, "info")]:
        assert found[0].detail is not None
        assert "does not show whether it is below 500" in found[0].detail
        assert not found[0].suggestions


def test_the_latest_count_within_two_days_is_read_not_a_later_one() -> None:
    # A day-14 dose: the day-14 ANC is read; one three days later is outside the window.
    counts = [anc(100, on=day(14)), anc(1000, on=day(17), rid="anc-later"), platelets(120_000)]
    assert rules(cards(draft(), *counts)) == [("ORD-IDA-COUNTS", "warning")]


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        pytest.param(2, [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-COUNTS-2-days-old"),
        pytest.param(3, [("ORD-IDA-NOLABS", "warning")], id="ORD-IDA-NOLABS-3-days-old"),
    ],
)
def test_counts_within_two_days(age: int, expected: list[Any]) -> None:
    counts = [anc(300, on=day(14 - age)), platelets(20_000, on=day(14 - age))]
    assert rules(cards(draft(), *counts)) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        pytest.param([], [("ORD-IDA-NOLABS", "warning")], id="ORD-IDA-NOLABS-none"),
        pytest.param(
            [anc(1200)], [("ORD-IDA-NOLABS", "warning")], id="ORD-IDA-NOLABS-no-platelets"
        ),
        pytest.param(
            [platelets(120_000)], [("ORD-IDA-NOLABS", "warning")], id="ORD-IDA-NOLABS-no-anc"
        ),
        # The other count already withholds the dose: COUNTS, not NOLABS.
        pytest.param([anc(300)], [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-NOLABS-other-low"),
    ],
)
def test_nolabs(counts: list[dict[str, Any]], expected: list[Any]) -> None:
    assert rules(cards(draft(), *counts)) == expected


@pytest.mark.parametrize(
    ("blasts", "on", "expected"),
    [
        pytest.param(26, day(14), [("ORD-IDA-M3", "info")], id="ORD-IDA-M3-26-percent"),
        pytest.param(25, day(14), [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-M3-25-is-M2"),
        pytest.param(40, day(17), [("ORD-IDA-M3", "info")], id="ORD-IDA-M3-day-17"),
        pytest.param(40, day(18), [("ORD-IDA-COUNTS", "warning")], id="ORD-IDA-M3-day-18-outside"),
    ],
)
def test_day14_marrow_m3_replaces_counts(blasts: float, on: str, expected: list[Any]) -> None:
    found = cards(
        draft(on=day(21)), anc(300, on=day(21)), platelets(20_000, on=day(21)), marrow(blasts, on)
    )
    assert rules(found) == expected
    assert all(not c.suggestions for c in found if c.indicator == "info")


def test_the_day14_marrow_nearest_day_14_decides() -> None:
    near, far = marrow(10, day(14), "bm-a"), marrow(60, day(12), "bm-b")
    assert rules(cards(draft(), anc(300), platelets(20_000), near, far)) == [
        ("ORD-IDA-COUNTS", "warning")
    ]


# --- ORD-IDA-SCHEDULE ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        pytest.param(-1, [], id="ORD-IDA-SCHEDULE-day-minus-1"),
        pytest.param(0, [], id="ORD-IDA-SCHEDULE-day-0"),
        pytest.param(2, [("ORD-IDA-SCHEDULE", "info")], id="ORD-IDA-SCHEDULE-day-2"),
        pytest.param(8, [], id="ORD-IDA-SCHEDULE-day-8"),
        pytest.param(10, [("ORD-IDA-SCHEDULE", "info")], id="ORD-IDA-SCHEDULE-day-10"),
        pytest.param(28, [("ORD-IDA-SCHEDULE", "info")], id="ORD-IDA-SCHEDULE-day-28"),
    ],
)
def test_schedule_days(n: int, expected: list[Any]) -> None:
    assert rules(cards(draft(on=day(n)), *good_counts(day(n)))) == expected


@pytest.mark.parametrize(
    ("prior", "expected"),
    [
        pytest.param([0, 7, 14], [], id="ORD-IDA-SCHEDULE-fourth-dose"),
        pytest.param(
            [0, 7, 14, 21], [("ORD-IDA-SCHEDULE", "info")], id="ORD-IDA-SCHEDULE-fifth-dose"
        ),
    ],
)
def test_fifth_dose(prior: list[int], expected: list[Any]) -> None:
    found = cards(draft(on=day(21)), *good_counts(day(21)), *(given(n) for n in prior))
    assert rules(found) == expected
    if expected:
        assert "dose number 5" in found[0].summary


def _ordered(n: int, rid: str) -> dict[str, Any]:
    """A signed idarubicin order with no timing: dated by authoredOn (day `n`)."""
    order = draft(on=None, rid=rid)
    return {**order, "status": "active", "authoredOn": day(n)}


def test_an_order_of_a_dose_given_is_that_dose_not_another() -> None:
    # Orders signed the day before each dose, then given: four doses with this draft, not six.
    prior = [given(0), given(7), given(14), _ordered(6, "o7"), _ordered(13, "o14")]
    assert rules(cards(draft(on=day(21)), *good_counts(day(21)), *prior)) == []
    # An administration naming its order fulfils it wherever the order is dated.
    far = _ordered(3, "o7-early")
    named = {**given(7), "request": {"reference": "MedicationRequest/o7-early"}}
    prior = [given(0), named, given(14), far]
    assert rules(cards(draft(on=day(21)), *good_counts(day(21)), *prior)) == []
    # An order no administration fulfils is a dose of its own.
    prior = [given(0), given(7), given(14), _ordered(3, "o-extra")]
    assert rules(cards(draft(on=day(21)), *good_counts(day(21)), *prior)) == [
        ("ORD-IDA-SCHEDULE", "info")
    ]


def test_an_undated_dose_that_could_make_this_the_fifth_stops_the_schedule_check() -> None:
    undated = {k: v for k, v in given(20).items() if k != "effectiveDateTime"}
    three = [given(n) for n in (0, 7, 14)]
    assert rules(cards(draft(on=day(21)), *good_counts(day(21)), *three, undated)) == [
        ("ORD-IDA-SCHEDULE", "info")
    ]
    found = cards(draft(on=day(21)), *good_counts(day(21)), *three, undated)
    assert found[0].summary == (
        "CALL-0603 idarubicin schedule check (ORD-IDA-SCHEDULE) could not be made"
    )
    # With two doses before it, one undated dose cannot make this the fifth.
    assert rules(cards(draft(on=day(14)), *good_counts(), given(0), given(7), undated)) == []


def test_a_dose_before_day_0_is_not_of_this_reinduction() -> None:
    before = given(-30)
    assert (
        rules(
            cards(draft(on=day(21)), *good_counts(day(21)), before, *(given(n) for n in (0, 7, 14)))
        )
        == []
    )


# --- when the checks apply ----------------------------------------------------------------------


def test_no_card_without_a_relapse() -> None:
    from tests.mappings.builders import diagnosis, patient

    assert cards(draft(30, "mg/m2"), base=[patient(), diagnosis()]) == []


def test_no_card_in_a_second_relapse() -> None:
    from tests.mappings.builders import relapse

    # A relapse in 2024 makes the one of 2026-01-28 a second relapse.
    base = [*record(), relapse("rel2", "2024-01-10", "14016003")]
    assert cards(draft(30, "mg/m2"), base=base) == []


def test_no_card_for_an_order_that_is_not_idarubicin() -> None:
    order = draft(30, "mg/m2")
    order["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11202"}]
    }
    assert cards(order) == []


def test_no_day_0_says_the_checks_cannot_be_made() -> None:
    from tests.mappings.builders import diagnosis, patient, relapse

    (card,) = cards(
        draft(30, "mg/m2"), base=[patient(), diagnosis(), relapse("rel", "2026-01-28", "14016003")]
    )
    assert card.indicator == "info"
    assert not card.suggestions
    assert card.detail is not None
    assert "day 0 is not documented" in card.detail


def test_day_0_from_the_first_reinduction_drug_given_after_the_relapse() -> None:
    from tests.mappings.builders import diagnosis, patient, relapse

    base = [patient(), diagnosis(), relapse("rel", "2026-01-28", "14016003"), given(0)]
    (card,) = cards(draft(on=day(14)), anc(300), platelets(20_000), base=base)
    values = {v["label"]: v for v in ext(card)["values"]}
    assert values["Reinduction day 0"]["source"] == "MedicationAdministration/ida-given-0"


def test_an_unreadable_count_stops_the_checks_rather_than_read_an_older_one() -> None:
    newer = anc(3, "K/uL", on=day(14), rid="anc-new")
    (card,) = cards(draft(), anc(1200, on=day(13)), platelets(120_000), newer)
    assert (card.indicator, ext(card)["rule"]) == ("info", OPEN)
    assert ext(card)["values"][-1] == {
        "label": "Missing",
        "value": "Observation/anc-new (value or unit not understood)",
    }
    assert card.detail is not None
    assert "Observation/anc-new \\(value or unit not understood\\)" in card.detail


def test_an_unreadable_value_stops_only_the_checks_it_could_change() -> None:
    # A weight in pounds from years ago could be read by no check: the withhold warning stands.
    stale = {**weight(30), "id": "old-weight", "effectiveDateTime": "2019-05-01"}
    stale["valueQuantity"] = {**stale["valueQuantity"], "code": "[lb_av]", "unit": "lb"}
    assert rules(cards(draft(12), anc(300), platelets(20_000), stale)) == [
        ("ORD-IDA-DOSE", "warning"),
        ("ORD-IDA-COUNTS", "warning"),
    ]
    # An unreadable ANC from last year stops nothing either.
    old_count = anc(3, "K/uL", on="2025-05-01", rid="old-anc")
    assert rules(cards(draft(12), *good_counts(), old_count)) == [("ORD-IDA-DOSE", "warning")]


def test_an_unreadable_count_cannot_undo_a_low_one() -> None:
    # ANC 100 withholds the dose whatever the platelet count that could not be read says.
    bad_platelets = platelets(3, "K/uL", rid="bad-plt")
    (card,) = cards(draft(), anc(100), bad_platelets)
    assert rules([card]) == [("ORD-IDA-COUNTS", "warning")]
    values = {v["label"]: v["value"] for v in ext(card)["values"]}
    assert values["Could not be read"] == "Observation/bad-plt (value or unit not understood)"


def test_of_counts_on_one_day_the_one_that_withholds_is_read() -> None:
    # An exact 450 and a ">=400" the same day: the 450 is below 500, the other says nothing.
    same_day = [anc(450, rid="anc-a"), _written(anc(400, rid="anc-b"), ">="), platelets(120_000)]
    assert rules(cards(draft(), *same_day)) == [("ORD-IDA-COUNTS", "warning")]


def test_an_unreadable_marrow_stops_the_m3_check_only_where_it_would_be_the_one_read() -> None:
    low = [anc(300, on=day(21)), platelets(20_000, on=day(21))]
    unreadable = {**marrow(40, day(17), "bm-bad"), "valueQuantity": {"value": 40, "code": "mg"}}
    # A readable M3 on day 14 is nearer day 14 than the unreadable day-17 marrow.
    assert rules(cards(draft(on=day(21)), *low, marrow(40, day(14)), unreadable)) == [
        ("ORD-IDA-M3", "info")
    ]
    # A readable marrow on day 12 is farther: the unreadable one could be the day-14 marrow.
    nearer = {**unreadable, "effectiveDateTime": day(14)}
    assert rules(cards(draft(on=day(21)), *low, marrow(40, day(12)), nearer)) == [
        ("ORD-IDA-COUNTS, ORD-IDA-M3", "info")
    ]


def test_a_preliminary_value_is_marked_on_the_order_card() -> None:
    (card,) = cards(draft(), {**anc(300), "status": "preliminary"}, platelets(120_000))
    values = {v["label"]: v["value"] for v in ext(card)["values"]}
    assert values["ANC"] == "300 /µL (preliminary result)"
    assert values["Platelets"] == "120000 /µL"


def test_an_undated_reinduction_start_that_could_be_day_0_stops_every_check() -> None:
    from tests.mappings.builders import diagnosis, patient, procedure, relapse

    undated = procedure("start", "reinduction-start", None)
    drug_dated = [patient(), diagnosis(), relapse("rel", "2026-01-28", "14016003"), given(0)]
    (card,) = cards(draft(12), *good_counts(), undated, base=drug_dated)
    assert (card.indicator, card.summary) == (
        "info",
        "CALL-0603 idarubicin checks could not be made",
    )
    assert {"label": "Missing", "value": "Procedure/start (no date)"} in ext(card)["values"]


def test_an_unreadable_body_size_where_it_would_be_read_stops_the_dose_check_alone() -> None:
    # A dose in mg with no BSA: a height within 30 days that cannot be read could be the one.
    bad_height = {**height(120), "id": "bad-height"}
    bad_height["valueQuantity"] = {**bad_height["valueQuantity"], "code": "[in_i]"}
    found = cards(draft(15, "mg"), weight(30), bad_height, anc(300), platelets(20_000))
    assert rules(found) == [("ORD-IDA-DOSE", "info"), ("ORD-IDA-COUNTS", "warning")]
    assert found[0].summary == "CALL-0603 idarubicin dose check (ORD-IDA-DOSE) could not be made"
    # A BSA read later than an unreadable one is the latest: the unreadable one changes nothing.
    older = {**bsa(1.2, on=day(-5)), "id": "old-bsa"}
    older["valueQuantity"] = {**older["valueQuantity"], "code": "cm2"}
    assert rules(cards(draft(15, "mg"), bsa(1.2), older, *good_counts())) == [
        ("ORD-IDA-DOSE", "warning")
    ]
    later = {**older, "id": "later-bsa", "effectiveDateTime": day(1)}
    assert rules(cards(draft(15, "mg"), bsa(1.2), later, *good_counts())) == [
        ("ORD-IDA-DOSE", "info")
    ]


def test_an_unreadable_day_14_marrow_stops_the_count_checks_when_counts_are_low() -> None:
    bad_marrow = {**marrow(40), "valueQuantity": {"value": 40, "code": "mg"}}
    assert rules(cards(draft(), anc(300), platelets(20_000), bad_marrow)) == [
        ("ORD-IDA-COUNTS, ORD-IDA-M3", "info")
    ]
    # With counts that withhold nothing, the marrow could change nothing.
    assert rules(cards(draft(), *good_counts(), bad_marrow)) == []


def test_an_unreadable_reinduction_start_that_could_be_day_0_stops_every_check() -> None:
    from tests.mappings.builders import OWN, cc, diagnosis, observation, patient, relapse

    start = observation("start", cc(OWN, "reinduction-start"), day(-1), valueString="x")
    start["effectiveDateTime"] = "2026-01-31T10:00:00"  # no time zone: read for its date
    start["status"] = 42  # cannot be validated
    drug_dated = [patient(), diagnosis(), relapse("rel", "2026-01-28", "14016003"), given(0)]
    (card,) = cards(draft(12), *good_counts(), start, base=drug_dated)
    assert (card.indicator, card.summary) == (
        "info",
        "CALL-0603 idarubicin checks could not be made",
    )
    # A reinduction CarePlan ranks first: an unreadable coded start cannot move its day 0.
    assert rules(cards(draft(12), *good_counts(), start)) == [("ORD-IDA-DOSE", "warning")]


def test_the_planned_date_falls_back_to_authored_on_then_the_request_date() -> None:
    order = draft(on=None)  # authoredOn is day 13: a count day
    assert rules(cards(order, anc(300, on=day(13)), platelets(120_000, on=day(13)))) == [
        ("ORD-IDA-COUNTS", "warning")
    ]
    del order["authoredOn"]  # the request date (day 0)
    assert rules(cards(order, *good_counts(day(0)))) == []


def test_a_draft_for_another_patient_is_not_read() -> None:
    order = draft(30, "mg/m2")
    order["subject"] = {"reference": "Patient/other"}
    assert cards(order) == []


def test_several_findings_are_several_cards_and_valid_cds_hooks() -> None:
    from cds_hooks.models import check_cards_response

    found = cards(
        draft(12.5, on=day(14)), anc(300), platelets(20_000), *(given(n) for n in (0, 3, 7, 10))
    )
    assert rules(found) == [
        ("ORD-IDA-DOSE", "warning"),
        ("ORD-IDA-COUNTS", "warning"),
        ("ORD-IDA-SCHEDULE", "info"),
    ]
    assert check_cards_response(cards_response(found)) == []
    for card in found:
        assert card.source.url == "https://doi.org/10.3346/jkms.2017.32.4.642"
        assert card.detail is not None
        assert "J Korean Med Sci 2017;32(4):642" in card.detail


def test_cards_name_sources_as_a_clinician_cites_them_never_as_files() -> None:
    found = cards(draft(12.5), anc(300), platelets(20_000))
    for card in found:
        assert card.detail is not None
        assert ".md" not in card.detail
        assert "seed" not in card.detail.lower()


def test_an_unreadable_condition_is_named_never_read_as_no_relapse() -> None:
    from tests.mappings.builders import diagnosis, patient, relapse

    broken = relapse("rel", "2026-01-28", "14016003")
    broken["onsetDateTime"] = "not a date"
    (card,) = cards(draft(30, "mg/m2"), base=[patient(), diagnosis(), broken])
    assert card.indicator == "info"
    assert ext(card)["values"] == [{"label": "Missing", "value": "Condition/rel"}]
