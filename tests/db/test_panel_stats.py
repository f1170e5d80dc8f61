"""The panel's Estadísticas page: orders and revenue per day in the shop's time zone
(cancelled orders left out), the period's totals, the funnel in distinct customers, the
best sellers, the period chosen in the address, an empty period, the plan that includes
the page, and one shop never counting another's orders."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from chatcentral import cli
from chatcentral.panel.stats_chart import long_date
from tests.conftest import ProvisionedShop
from tests.support.panel import sign_in
from tests.support.plans import on_plan
from tests.support.shop_stats import SCRIPT_NAME, a_week_of_orders, today


def by_day(html: str) -> dict[str, tuple[str, str]]:
    """The day-by-day table: date → (orders, revenue)."""
    rows = re.findall(
        r'data-day="([\d-]+)"><td>[^<]*</td><td class="num">(\d+)</td><td class="num">([^<]+)<',
        html,
    )
    return {day: (orders, revenue) for day, orders, revenue in rows}


def bars(html: str) -> list[str]:
    return re.findall(
        r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" rx="1.5"><title>([^<]+)</title>',
        html,
    )


def funnel(html: str) -> list[str]:
    section = html[html.index('id="funnel"') : html.index("</ol>", html.index('id="funnel"'))]
    rows = re.findall(r"<span>([^<]+)</span><span><strong>(\d+)</strong>([^<]*)</span>", section)
    return [f"{label}: {count}{rest}" for label, count, rest in rows]


def top(html: str, key: str) -> list[str]:
    section = html[html.index(f'id="{key}"') : html.index("</ol>", html.index(f'id="{key}"'))]
    rows = re.findall(r'<span class="name">([^<]+)</span><span class="num">([^<]+)</span>', section)
    return [f"{name} | {numbers}" for name, numbers in rows]


async def test_a_week_per_day_with_totals_funnel_and_best_sellers(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    a_week_of_orders(sync_engine, shops)
    on_plan(sync_engine, "complete")
    await sign_in(browser, sync_engine, shops["grocery"].id)
    response = await browser.get("/panel/stats")
    assert response.status_code == 200, response.text
    html = response.text
    day = [(today() - timedelta(days=n)).isoformat() for n in range(7)]
    assert by_day(html) == {
        day[0]: ("0", "$0.00"),
        day[1]: ("2", "$130.00"),
        day[2]: ("1", "$40.00"),  # 23:30 in Mexico City, already the next day in UTC
        day[3]: ("1", "$250.00"),  # the cancelled order neither counted nor sold
        day[4]: ("0", "$0.00"),
        day[5]: ("0", "$0.00"),
        day[6]: ("0", "$0.00"),
    }
    assert list(by_day(html)) == day  # newest first in the table
    week = [today() - timedelta(days=n) for n in range(6, -1, -1)]
    assert bars(html) == [
        f"{long_date(d)}: {n} pedido{'' if n == 1 else 's'}, {money}"
        for d, (n, money) in zip(
            week,
            [(0, "$0.00")] * 3 + [(1, "$250.00"), (1, "$40.00"), (2, "$130.00"), (0, "$0.00")],
            strict=True,
        )
    ]
    assert '<dd id="total-orders">4</dd>' in html
    assert '<dd id="total-revenue">$420.00</dd>' in html
    assert "$105.00" in html  # the average ticket
    assert '<dd id="total-cancelled">1</dd>' in html
    assert funnel(html) == [
        "Escribieron: 5 · 100%",
        "Armaron un carrito: 4 · 80%",  # the three who ordered, and Pepe's cart
        "Hicieron un pedido: 3 · 60%",
        "Pedido confirmado: 2 · 40%",  # Luis's orders: one pending, one cancelled
    ]
    assert top(html, "top-quantity") == [
        "Arroz | 3 kg · $90.00",
        "Frijol | 2 piezas · $80.00",
        f"{SCRIPT_NAME.replace('<', '&lt;').replace('>', '&gt;')} | 1 pieza · $250.00",
    ]
    assert [row.split(" | ")[0] for row in top(html, "top-revenue")] == [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "Arroz",
        "Frijol",
    ]
    assert "<script>alert" not in html
    assert "Aceite" not in html and "Garrafón" not in html and "9,999" not in html


async def test_thirty_days_reach_back_further(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    a_week_of_orders(sync_engine, shops)
    on_plan(sync_engine, "complete")
    await sign_in(browser, sync_engine, shops["grocery"].id)
    html = (await browser.get("/panel/stats", params={"days": "30"})).text
    assert len(bars(html)) == 30 and len(by_day(html)) == 30
    assert by_day(html)[(today() - timedelta(days=8)).isoformat()] == ("1", "$200.00")
    assert '<dd id="total-orders">5</dd>' in html
    assert '<dd id="total-revenue">$620.00</dd>' in html
    assert top(html, "top-quantity")[0] == "Frijol | 7 piezas · $280.00"
    assert 'href="/panel/stats?days=30" aria-current="page"' in html
    ninety = (await browser.get("/panel/stats?days=90")).text
    assert len(bars(ninety)) == 90


@pytest.mark.parametrize("days", ["abc", "8", "-7", "0", "7.5", "9" * 40, ""])
async def test_other_periods_fall_back_to_a_week(
    days: str,
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    a_week_of_orders(sync_engine, shops)
    on_plan(sync_engine, "complete")
    await sign_in(browser, sync_engine, shops["grocery"].id)
    response = await browser.get("/panel/stats", params={"days": days})
    assert response.status_code == 200
    assert len(bars(response.text)) == 7
    assert 'href="/panel/stats?days=7" aria-current="page"' in response.text


async def test_another_shop_counts_only_its_own_and_an_empty_period_says_so(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    a_week_of_orders(sync_engine, shops)
    on_plan(sync_engine, "complete")
    await sign_in(browser, sync_engine, shops["water"].id)
    html = (await browser.get("/panel/stats")).text
    assert '<dd id="total-orders">1</dd>' in html
    assert '<dd id="total-revenue">$9,999.00</dd>' in html
    assert top(html, "top-quantity") == ["Garrafón | 100 garrafones · $9,999.00"]
    assert funnel(html)[0] == "Escribieron: 1 · 100%"
    assert "Arroz" not in html and "alert(1)" not in html
    with sync_engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {shops['water'].schema}.order_items"))
        conn.execute(text(f"DELETE FROM {shops['water'].schema}.order_history"))
        conn.execute(text(f"DELETE FROM {shops['water'].schema}.orders"))
        conn.execute(text(f"DELETE FROM {shops['water'].schema}.messages"))
    empty = await browser.get("/panel/stats")
    assert empty.status_code == 200
    assert 'class="chart"' not in empty.text
    assert "Todavía no hay pedidos en estos 7 días" in empty.text
    assert "Nadie ha escrito a tu WhatsApp en estos días" in empty.text
    assert "Aún no hay productos vendidos" in empty.text
    assert '<dd id="total-revenue">$0.00</dd>' in empty.text


async def test_a_basic_shop_is_told_which_plan_has_stats(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cli_env: str,
) -> None:
    a_week_of_orders(sync_engine, shops)
    await sign_in(browser, sync_engine, shops["grocery"].id)
    board = (await browser.get("/panel/")).text
    assert 'href="/panel/stats"' in board  # the tab shows, and leads to the page below
    locked = await browser.get("/panel/stats", params={"days": "30"})
    assert locked.status_code == 403
    assert "Las estadísticas están en el plan Completo." in locked.text
    assert 'href="/panel/stats" aria-current="page"' in locked.text
    assert "Arroz" not in locked.text and 'class="chart"' not in locked.text
    assert locked.headers["content-security-policy"].startswith("default-src 'self'")

    assert cli.main(["tenant", "plan", "tienda", "complete"]) == 0
    opened = await browser.get("/panel/stats")
    assert opened.status_code == 200 and len(bars(opened.text)) == 7


async def test_signed_out_goes_to_the_login(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop]
) -> None:
    response = await browser.get("/panel/stats")
    assert response.status_code == 303 and response.headers["location"] == "/panel/login"
