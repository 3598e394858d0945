"""One definition per scheme: a sixth scheme is one declaration plus one entry in SCHEMES, and
a declaration that does not fit is refused at import instead of answering wrongly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from cds_hooks.models import cards_response
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service import cli
from service.cards import build_cards
from service.domain import assess, pathway, schemes
from service.domain.facts import Facts, MrdBand
from service.domain.schemes import bfm
from service.domain.schemes.cell import Cell
from service.domain.schemes.scheme import Scheme, check
from service.engine import assess_resources
from service.smart.view import build_page
from tests.conftest import FIXTURES
from tests.domain.builders import make_inputs

AS_OF = date(2026, 1, 1)


def _toy(f: Facts) -> Cell:
    group = "high" if f.marrow else "standard"
    return Cell(group, "TOY", f"marrow {'involved' if f.marrow else 'not involved'} → {group}")


TOY = Scheme(
    key="toy",
    title="Toy",
    full_title="Toy scheme (test only)",
    rule="TOY",
    reads=frozenset({"sites"}),
    classify=_toy,
    plans={"standard": "PATH-2", "high": "PATH-4"},
    mrd_threshold=1e-3,
)


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # As production would: one more entry in the list, checked like the others.
    check((*schemes.SCHEMES, TOY))
    monkeypatch.setattr(schemes, "SCHEMES", (*schemes.SCHEMES, TOY))
    # World plans are cached per world and primary; the list changed under them.
    pathway.world_plan.cache_clear()
    yield
    pathway.world_plan.cache_clear()


@pytest.mark.usefixtures("toy_registered")
def test_a_registered_scheme_is_in_the_assessment_and_can_be_primary() -> None:
    a = assess(make_inputs("late", "isolated_marrow"), AS_OF, "toy")
    assert list(a.schemes)[-1] == "toy"
    assert (a.schemes["toy"].group, a.schemes["toy"].rule) == ("high", "TOY")
    assert (a.pathway.scheme, a.pathway.plan, a.pathway.plan_rules) == (
        "toy",
        "chemotherapy_then_hsct",
        ("PATH-4",),
    )
    assert a.to_json()["schemes"]["toy"]["group"] == "high"


@pytest.mark.usefixtures("toy_registered")
def test_a_registered_scheme_is_on_the_cards_the_page_and_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = FIXTURES / "b-late-marrow.json"
    bundle = json.loads(path.read_text(encoding="utf-8"))
    result = assess_resources(
        resources_from_bundle(bundle), codes=load_codesets(), primary="toy", as_of=AS_OF
    )
    risk, plan = cards_response(build_cards(result, app_url=None))["cards"]
    assert risk["summary"] == "Relapsed ALL: Toy scheme risk group high (TOY)"
    assert "| Toy scheme (test only) | high | `TOY` |" in risk["detail"]
    assert "following Toy scheme (test only)" in plan["detail"]
    page = build_page(result.assessment, {}, {}, {})
    assert page.schemes[-1].title == "Toy scheme (test only)"
    assert page.scheme_name == "Toy scheme"
    code = cli.main(
        ["assess", "--as-of", "2026-01-01", "--primary", "toy", "--format", "text", str(path)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Toy scheme (test only)" in out
    assert "Plan (Toy scheme):" in out


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"key": "bfm"}, "repeat"),
        ({"mrd_threshold": 5e-4}, "MRD threshold"),
        ({"reads": frozenset({"lineage", "blood_counts"})}, "unknown dimensions"),
        ({"plans": {"standard": "PATH-9"}}, "plan rules"),
        ({"plans": {"indeterminate": "PATH-2"}}, "own groups"),
        ({"timing": "call0603"}, "timing"),
        ({"title": ""}, "titles"),
    ],
)
def test_a_declaration_that_does_not_fit_is_refused(
    change: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        check((bfm.SCHEME, replace(TOY, **change)))  # type: ignore[arg-type]


def test_mrd_band_refuses_a_threshold_it_cannot_answer() -> None:
    assert MrdBand.BELOW_1E3.below(1e-3)
    assert not MrdBand.BELOW_1E3.below(1e-4)
    with pytest.raises(ValueError, match="threshold"):
        MrdBand.BELOW_1E3.below(5e-4)


def test_intreall_standard_with_marrow_is_its_own_plan_rule() -> None:
    # §4 PATH-3: IntReALL standard with marrow involved; PATH-2 without (the scheme's rule).
    intreall = schemes.get_scheme("intreall")
    marrow = assess(make_inputs("late", "isolated_marrow"), AS_OF).schemes["intreall"]
    assert marrow.group == "standard"
    assert intreall.plan_rule is not None
    assert intreall.plans["standard"] == "PATH-2"
    p = assess(make_inputs("late", "isolated_marrow"), AS_OF, "intreall").pathway
    assert p.plan_rules == ("PATH-3",)
    p = assess(make_inputs("late", "isolated_extramedullary"), AS_OF, "intreall").pathway
    assert p.plan_rules == ("PATH-2",)


def test_unknown_scheme_is_named() -> None:
    with pytest.raises(KeyError, match="toy"):
        schemes.get_scheme("toy")
