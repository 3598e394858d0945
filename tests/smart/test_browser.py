"""Headless Chromium from the EHR's launch to the rendered page, for several patients."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.domain.inputs import Mrd, RelapseInputs
from service.domain.thresholds import Comparator
from service.settings import Settings
from service.smart.timeline import build_timeline
from tests.servers import wsgi_server
from tests.smart.conftest import StackFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("/usr/bin/chromium") is None, reason="no chromium"),
]
CHROMIUM = "/usr/bin/chromium"
# Screenshots land here (git-ignored) so a person can look at what the test saw.
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CSS = Path(__file__).resolve().parents[2] / "service/smart/static/app.css"
WIDTHS = (1100, 400)

# (patient, appContext in the token, view in the card link's URL, expected groups)
CASES = [
    ("smart-late-b", None, None, {"bfm": "S2", "cog": "low", "inpog": "standard"}),
    ("smart-t-early", "view=schemes", None, {"bfm": "S4", "allr3": "high", "cog": "high"}),
    # As the SMART App Launcher does: the link's URL keeps ?view=, the token has no appContext.
    ("smart-cns-late", None, "pathway", {"bfm": "S1", "cog": "undetermined"}),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _watch(page: Any) -> list[str]:
    """What the console would show as a problem: failed loads (404s) and errors or warnings.

    A page's own status (the 404 or 401 of an error page) is its answer, not a broken link.
    """
    problems: list[str] = []
    pages: set[str] = set()

    def response(r: Any) -> None:
        if r.request.is_navigation_request():
            pages.add(r.url)
        elif r.status >= 400:
            problems.append(f"{r.status} {r.url}")

    def console(m: Any) -> None:
        own_status = m.text.startswith("Failed to load resource") and m.location["url"] in pages
        if m.type in ("error", "warning") and not own_status:
            problems.append(f"console {m.type}: {m.text} ({m.location['url']})")

    page.on("response", response)
    page.on("console", console)
    return problems


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return dict(box)


def test_browser_launch_opens_the_view_with_the_patient_banner_in_sight(
    make_stack: StackFactory, browser: Any
) -> None:
    stack = make_stack(auto_approve=True)
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 800})
        problems = _watch(page)
        for patient, app_context, link_view, groups in CASES:
            query = "&".join(
                q
                for q in (
                    f"view={link_view}" if link_view else "",
                    f"appContext={app_context}" if app_context else "",
                )
                if q
            )
            page.goto(f"{stack.ehr}/launch/{patient}?{query}")
            page.wait_for_selector("#schemes")
            for scheme, group in groups.items():
                card = page.locator(f"article[aria-labelledby='h-s-{scheme}'] p.group")
                assert card.inner_text() == group
            view = link_view or (app_context or "view=summary").split("=")[1]
            assert page.url.endswith(f"#{view}")
            assert page.locator(f"section#{view}.open").count() == 1
            # On arrival the banner is at the top of the screen, and the opened section's
            # heading is in sight below it, not hidden under it.
            banner = _box(page, "header.banner")
            heading = _box(page, f"#h-{view}")
            assert banner["y"] == 0
            assert page.locator(".banner .name").is_visible()
            assert banner["y"] + banner["height"] <= heading["y"] < 800
            if view != "summary":
                assert page.evaluate("window.scrollY") > 0  # it did scroll, and stayed on top
            # The figure spans its section: axis column plus plot fill the width.
            figure, plot = _box(page, "#timeline figure"), _box(page, "svg.timeline")
            assert plot["x"] + plot["width"] == pytest.approx(figure["x"] + figure["width"], abs=1)
            shot = ARTIFACTS / f"{patient}-{width}.png"
            page.screenshot(path=shot)
            print(f"screenshot: {shot}")
        page.close()
        assert problems == []


def test_no_page_has_a_broken_load_or_a_console_error(
    make_stack: StackFactory, browser: Any, tmp_path: Path
) -> None:
    stack = make_stack()  # with the EHR's consent page
    settings = Settings(
        auth="none", database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", demo_ehr_url=stack.ehr
    )
    page = browser.new_page()
    problems = _watch(page)
    icons: list[str] = []
    page.on("response", lambda r: icons.append(r.url) if "favicon" in r.url else None)
    # The service stays up until the page is closed: the browser may still be fetching the
    # favicon of the JSON page after it moved on, and a closed server would fail that load.
    with wsgi_server(create_app(settings)) as service:
        page.goto(f"{service}/")  # the start page
        page.goto(f"{service}/openapi.json")  # a JSON answer: the browser asks /favicon.ico
        icon = page.request.get(f"{service}/favicon.ico")
        assert icon.status == 200
        assert icon.headers["content-type"].startswith("image/svg+xml")
        page.goto(f"{stack.ehr}/launch/smart-late-b")  # the EHR's consent page
        page.click("button[value=approve]")
        page.wait_for_selector("#inputs")
        page.click("#inputs a[href*='/app/resource/']")  # a source resource
        page.wait_for_selector("pre.json")
        page.goto(f"{stack.app}/app/view?view=pathway")  # still signed in
        page.goto(f"{stack.app}/app/resource/Nothing/x")  # an error page (404)
        page.context.clear_cookies()
        page.goto(f"{stack.app}/app/view")  # signed out: an error page (401)
        assert "Your session has ended" in page.content()
        page.close()
    assert problems == []
    assert any("/app/static/favicon.svg" in url for url in icons)


def _close_events() -> RelapseInputs:
    """Many events close together: three relapses, two HSCTs and MRD results within a year."""
    d = date(2024, 1, 1)
    return RelapseInputs(
        diagnosis_date=date(2019, 5, 2),
        end_of_therapy=d,
        relapse_date=d + timedelta(days=20),
        relapse_dates=(d + timedelta(days=20), d + timedelta(days=60), d + timedelta(days=75)),
        hsct_dates=(d + timedelta(days=90), d + timedelta(days=100)),
        mrd_series=tuple(
            Mrd(10.0**-n, Comparator.EQ if n < 5 else Comparator.LT, d + timedelta(days=30 * n))
            for n in range(1, 7)
        ),
    )


@pytest.mark.parametrize("width", [*WIDTHS, 2000])
def test_timeline_labels_never_overprint(browser: Any, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    svg = build_timeline(_close_events()).svg
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.set_content(
        f"<!doctype html><style>{CSS.read_text()}</style><main><section class='section'>"
        f"<figure>{svg}</figure></section></main>"
    )
    boxes = page.eval_on_selector_all(
        ".tl text",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [e.textContent, r.left, r.top, r.right, r.bottom]; })",
    )
    assert len(boxes) >= 7 + 6  # events, scale, thresholds, years
    for (ta, *a), (tb, *b) in itertools.combinations(boxes, 2):
        apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
        assert apart, f"{ta!r} overprints {tb!r} at {width} px"
    # Every label inside the figure, and the figure as wide as its section.
    tl, figure, plot = _box(page, ".tl"), _box(page, "figure"), _box(page, "svg.timeline")
    for text, left, _top, right, _bottom in boxes:
        assert tl["x"] <= left, text
        assert right <= tl["x"] + tl["width"] + 0.5, text
    assert plot["x"] + plot["width"] == pytest.approx(figure["x"] + figure["width"], abs=1)
    page.screenshot(path=ARTIFACTS / f"timeline-close-events-{width}.png")
    page.close()
