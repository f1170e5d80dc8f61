"""The Estadísticas page in a real headless Chromium at phone size, against `chatcentral run`:
the owner signs in with a link from `chatcentral panel link` and opens the tab, first on
the Básico plan (the page names the plan that has it), then on Completo: the chart (one
bar per day, a week and then a month), the funnel and the best sellers. A product named
`<script>alert(1)</script>` is shown as text and runs nothing."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.conftest import ProvisionedShop
from tests.support.browser import (
    dismissed_dialogs,
    phone_browser,
    screenshot_dir,
    sign_in_with_link,
)
from tests.support.plans import on_plan
from tests.support.processes import interrupt, start_run
from tests.support.shop_stats import SCRIPT_NAME, a_week_of_orders


def test_the_owner_opens_the_stats_and_sees_a_bar_per_day(
    db_url: str, shops: dict[str, ProvisionedShop], sync_engine: Engine, tmp_path: Path
) -> None:
    a_week_of_orders(sync_engine, shops)
    shots = screenshot_dir(tmp_path)
    proc, base = start_run(db_url, tmp_path)
    try:
        with phone_browser(tmp_path) as context:
            page = context.new_page()
            dialogs = dismissed_dialogs(page)
            sign_in_with_link(page, db_url, base, tmp_path)

            # A Básico shop: the tab leads to the plan that has the page.
            page.get_by_role("link", name="Ventas", exact=True).click()
            page.wait_for_url(f"{base}/panel/stats")
            expect(page.locator("#locked")).to_contain_text("en el plan Completo")
            page.screenshot(path=shots / "panel-stats-locked.png")
            on_plan(sync_engine, "complete")
            page.reload()
            chart = page.locator("#chart")
            expect(chart).to_be_visible()
            expect(chart.locator(".bars rect")).to_have_count(7)
            box = chart.bounding_box()
            assert box is not None and box["width"] <= 390 and box["height"] > 150
            expect(page.locator("#total-orders")).to_have_text("4")
            expect(page.locator("#funnel li")).to_have_count(4)
            expect(page.locator("#top-revenue .name").first).to_have_text(SCRIPT_NAME)
            page.screenshot(path=shots / "panel-stats.png", full_page=True)

            page.get_by_role("link", name="30 días").click()
            page.wait_for_url(f"{base}/panel/stats?days=30")
            expect(page.locator("#chart .bars rect")).to_have_count(30)
            page.screenshot(path=shots / "panel-stats-30.png", full_page=True)
            assert dialogs == []
    finally:
        interrupt(proc)
