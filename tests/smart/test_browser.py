"""Headless Chromium from the EHR's launch to the rendered page, for several patients."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.smart.conftest import StackFactory

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"

CASES = [
    ("smart-late-b", None, {"bfm": "S2", "cog": "low", "inpog": "standard"}),
    ("smart-t-early", "view=schemes", {"bfm": "S4", "allr3": "high", "cog": "high"}),
    ("smart-cns-late", "view=pathway", {"bfm": "S1", "cog": "indeterminate"}),
]


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed")
def test_browser_launch_renders_the_assessment(make_stack: StackFactory, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    stack = make_stack(auto_approve=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for width in (1100, 400):
                page = browser.new_page(viewport={"width": width, "height": 900})
                for patient, app_context, groups in CASES:
                    query = f"?appContext={app_context}" if app_context else ""
                    page.goto(f"{stack.ehr}/launch/{patient}{query}")
                    page.wait_for_selector("#schemes")
                    for scheme, group in groups.items():
                        card = page.locator(f"article[aria-labelledby='h-s-{scheme}'] p.group")
                        assert card.inner_text() == group
                    view = (app_context or "view=summary").split("=")[1]
                    assert page.url.endswith(f"#{view}")
                    assert page.locator(f"section#{view}.open").count() == 1
                    assert page.locator("svg.timeline").count() == 1
                    page.screenshot(path=tmp_path / f"{patient}-{width}.png", full_page=True)
                page.close()
        finally:
            browser.close()
    assert len(list(tmp_path.glob("*.png"))) == 2 * len(CASES)
