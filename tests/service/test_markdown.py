"""Text from FHIR or the request renders as itself in card markdown: no links, HTML or tables.

Rendered with GitHub's own renderer (cmark-gfm, every GFM extension on and raw HTML let through,
so nothing is hidden by a sanitiser) and with markdown-it with linkify (bare-domain links).
"""

from __future__ import annotations

import copy
import html
import json
import re
import unicodedata
from datetime import date

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cds_hooks.errors import PrefetchFailure
from cds_hooks.fhir import outcome_error_code
from mappings.codesets import load_codesets
from mappings.extract import resources_from_bundle
from service.cards import build_cards
from service.engine import assess_resources
from service.markdown import escape
from tests.conftest import FIXTURES

ATTACKS = (
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "![x](https://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    "`code` and ``more``",
    "line\nbreak\r\n# heading\n\n| t | u |\n|---|---|\n| 1 | 2 |",
    "www.evil.example http://evil.example/x nurse@evil.example",
    "evil.example <https://evil.example> <nurse@evil.example>",
    "*em* __strong__ ~~gone~~ &amp; &#60; \\",
    "- list\n1. item\n> quote\n    code",
    "[ref]: https://evil.example\n[ref]",
    "x\u2028y\u0000z\u0085w\x1b[31m",
    "text/html; charset=<b>x</b>",
)
CARD_CHARS = st.text(
    alphabet=st.sampled_from(list("<>[]()!`*_|\\:@.#-+=~&;/\"' \n\tajwhtps0123")) | st.characters(),
    max_size=60,
)
GFM = Options.CMARK_OPT_UNSAFE  # let raw HTML through: only the escaping may stop it
LINKIFY = MarkdownIt("gfm-like")


def gfm(markdown: str) -> str:
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=GFM))


def shown(text: str) -> str:
    """What `escape` promises to show: control characters and whitespace runs as one space."""
    spaced = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)
    return " ".join(spaced.split())


def plain(rendered: str, wrapper: str = "p") -> str:
    """The text of one rendered element; fails when it holds any other element."""
    inner = rendered.strip().removeprefix(f"<{wrapper}>").removesuffix(f"</{wrapper}>")
    assert "<" not in inner, rendered
    return html.unescape(inner).replace("\u2060", "")


@pytest.mark.parametrize("text", ATTACKS)
def test_attacks_render_as_their_text(text: str) -> None:
    for render in (gfm, LINKIFY.render):
        assert plain(render(escape(text))) == shown(text)


@given(CARD_CHARS)
def test_any_text_renders_as_itself_inline(text: str) -> None:
    expected = shown(text)
    if not expected:
        assert gfm(escape(text)) == ""
        return
    # plain() drops word joiners, the text's own (U+2060) as well as those escape adds.
    assert plain(gfm(escape(text))) == expected.replace("\u2060", "")
    assert plain(LINKIFY.render(escape(text))) == expected.replace("\u2060", "")


@given(CARD_CHARS, CARD_CHARS)
def test_escaped_text_stays_in_its_table_cell(left: str, right: str) -> None:
    table = f"| a | b |\n|---|---|\n| {escape(left)} | {escape(right)} |\n"
    rendered = gfm(table)
    cells = re.findall(r"<td>(.*?)</td>", rendered, flags=re.DOTALL)
    assert len(cells) == 2
    assert [html.unescape(c).replace("\u2060", "") for c in cells] == [shown(left), shown(right)]
    assert "<a " not in rendered


@given(
    st.sampled_from(("- nested", "1. ordered", "2) x", "# h", "> q", "+ p", "=== s", "---"))
    | CARD_CHARS
)
def test_escaped_text_starting_a_list_item_stays_plain(text: str) -> None:
    rendered = gfm(f"- {escape(text)}\n")
    item = rendered.removeprefix("<ul>\n<li>").removesuffix("</li>\n</ul>\n")
    assert "<" not in item, rendered
    assert html.unescape(item).replace("\u2060", "") == shown(text)


def test_long_text_is_cut() -> None:
    assert escape("a" * 10_000, limit=20) == "a" * 19 + "…"


def _detail_with_hostile_record() -> str:
    bundle = json.loads((FIXTURES / "b-late-combined.json").read_text(encoding="utf-8"))
    observation = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    bad_id = copy.deepcopy(observation)
    bad_id["resource"]["id"] = "x<script>alert(1)</script>|`y`"
    unknown_field = copy.deepcopy(observation)
    unknown_field["resource"]["id"] = "field"
    unknown_field["resource"]["[click](javascript:alert(1))"] = True
    bundle["entry"] += [bad_id, unknown_field]
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "![x](https://evil.example/t.png)"}],
    }
    # An OperationOutcome's code is carried only when it is an IssueType code.
    code = outcome_error_code(outcome)
    failures = {
        "procedures": PrefetchFailure(code or "exception", f"OperationOutcome ({code})"),
        "careplans": PrefetchFailure(
            "exception", "FHIR server answered non-JSON (text/html|<img src=x onerror=alert(1)>)"
        ),
    }
    result = assess_resources(
        resources_from_bundle(bundle),
        codes=load_codesets(),
        primary="bfm",
        as_of=date(2026, 11, 22),
        failures=failures,
    )
    risk = build_cards(result, app_url=None)[0]
    assert risk.detail is not None
    return risk.detail


def test_hostile_ids_field_names_outcome_codes_and_content_types_stay_text_on_the_card() -> None:
    rendered = gfm(_detail_with_hostile_record())
    for tag in ("<a ", "<img", "<script", "<a>"):
        assert tag not in rendered
    # Our one table (header and five schemes), four cells a row, however the record reads.
    assert rendered.count("<table>") == 1
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, flags=re.DOTALL)
    assert len(rows) == 6
    assert all(len(re.findall(r"<t[hd]", row)) == 4 for row in rows)
    # Code spans hold only our own rule ids.
    spans = re.findall(r"<code>(.*?)</code>", rendered)
    assert all(re.fullmatch(r"[A-Z0-9\-*]+", span) for span in spans)
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    for quoted in (
        "Observation/x<script>alert(1)</script>|`y`",
        "[click](javascript:alert(1))",
        "text/html|<img src=x onerror=alert(1)>",
    ):
        assert quoted in text
    # An OperationOutcome code that is no IssueType code is not carried at all.
    assert "evil.example/t.png" not in rendered
