"""The panel's orders: today's board by status, one order with its status buttons (through
`orders.status.change_status`: the customer is told on WhatsApp), customer text escaped,
the live feed, and a session of one shop never seeing another shop's orders."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from chatcentral.panel import routes
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import add_customer, add_order, days_ago
from tests.support.panel import sign_in

SCRIPT_NAME = "<script>alert(1)</script>"


def customer_messages(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT payload FROM central.outbox WHERE kind = 'message' ORDER BY id")
        ).scalars()
        return [dict(row) for row in rows]


def status_of(engine: Engine, schema: str, order_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text(
                    f"SELECT s.code FROM {schema}.orders o JOIN {schema}.order_status s "
                    "ON s.id = o.status_id WHERE o.id = :o"
                ),
                {"o": order_id},
            ).scalar_one()
        )


async def test_the_board_shows_todays_orders_by_status_newest_first(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    ana = add_customer(sync_engine, schema, "5215512345678")
    old_done = add_order(sync_engine, schema, ana, status="entregado", created_at=days_ago(3))
    old_open = add_order(sync_engine, schema, ana, status="confirmado", created_at=days_ago(3))
    first = add_order(sync_engine, schema, ana)
    second = add_order(sync_engine, schema, ana)
    sent = add_order(sync_engine, schema, ana, status="en_camino")
    await sign_in(browser, sync_engine, shops["grocery"].id)
    page = (await browser.get("/panel/")).text
    assert page.index("Pendiente") < page.index("Confirmado") < page.index("En camino")
    assert page.index(f'data-order="{second}"') < page.index(f'data-order="{first}"')
    assert f'data-order="{old_open}"' in page  # still open: it stays until it is done
    assert f'data-order="{old_done}"' not in page  # done on another day
    assert f'data-order="{sent}"' in page
    assert "Ana López" in page and "$135.00" in page and "1 producto" in page
    fragment = await browser.get("/panel/board")
    assert fragment.status_code == 200 and f'data-order="{second}"' in fragment.text
    assert "<html" not in fragment.text


async def test_customer_text_is_escaped_everywhere(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    sneaky = add_customer(sync_engine, schema, "5215511112222", name=SCRIPT_NAME)
    order = add_order(sync_engine, schema, sneaky)
    with sync_engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {schema}.orders SET notes = :n, address_text = :a WHERE id = :o"),
            {"n": '"><img src=x onerror=alert(2)>', "a": "<b>Calle</b>", "o": order},
        )
    await sign_in(browser, sync_engine, shops["grocery"].id)
    for path in ("/panel/", "/panel/board", f"/panel/orders/{order}"):
        html = (await browser.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>Calle" not in html
    detail = (await browser.get(f"/panel/orders/{order}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in detail
    assert "&lt;b&gt;Calle&lt;/b&gt;" in detail


async def test_an_order_moves_from_the_panel_and_the_customer_is_told(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    ana = add_customer(sync_engine, schema, "5215512345678")
    order = add_order(sync_engine, schema, ana)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    detail = (await browser.get(f"/panel/orders/{order}")).text
    assert "Detergente en polvo 1 kg" in detail and "Calle 5 #10" in detail
    assert "sin cebolla" in detail and 'href="https://wa.me/525512345678"' in detail
    assert 'data-status="confirmado"' in detail and 'data-status="cancelado"' in detail

    for wanted in ("confirmado", "en_camino", "entregado"):
        moved = await browser.post(
            f"/panel/orders/{order}/status", data={"csrf": csrf, "status": wanted}
        )
        assert moved.status_code == 303, moved.text
        assert moved.headers["location"] == f"/panel/orders/{order}?ok=1"
        assert status_of(sync_engine, schema, order) == wanted
    shown = (await browser.get(f"/panel/orders/{order}?ok=1")).text
    assert "el cliente fue avisado" in shown and "data-status=" not in shown  # finished
    bodies = [m["text"]["body"] for m in customer_messages(sync_engine)]
    assert len(bodies) == 3 and bodies[1] == f"🚚 Tu pedido #{order} va en camino."
    assert all(m["to"] == "+525512345678" for m in customer_messages(sync_engine))
    with sync_engine.connect() as conn:
        actors = conn.execute(
            text(f"SELECT changed_by FROM {schema}.order_history WHERE order_id = :o ORDER BY id"),
            {"o": order},
        ).scalars()
        assert list(actors) == ["customer"] + ["panel:+525587654321"] * 3


async def test_a_cancellation_tells_the_customer_why(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    order = add_order(sync_engine, schema, add_customer(sync_engine, schema, "5215512345678"))
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    cancelled = await browser.post(
        f"/panel/orders/{order}/status",
        data={"csrf": csrf, "status": "cancelado", "note": "Sin existencias"},
    )
    assert cancelled.status_code == 303
    [message] = customer_messages(sync_engine)
    assert "Sin existencias" in message["text"]["body"]
    assert f"#{order}" in message["text"]["body"]


async def test_a_forbidden_move_is_explained_and_changes_nothing(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    ana = add_customer(sync_engine, schema, "5215512345678")
    order = add_order(sync_engine, schema, ana, status="en_camino")
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    refused = await browser.post(
        f"/panel/orders/{order}/status",
        data={"csrf": csrf, "status": "cancelado", "note": "ya no"},
    )
    assert refused.status_code == 409
    assert "ya salió: no se puede cancelar" in refused.text and "En camino" in refused.text
    unknown = await browser.post(
        f"/panel/orders/{order}/status", data={"csrf": csrf, "status": "robado"}
    )
    assert unknown.status_code == 409
    no_token = await browser.post(f"/panel/orders/{order}/status", data={"status": "entregado"})
    assert no_token.status_code == 403
    assert status_of(sync_engine, schema, order) == "en_camino"
    assert customer_messages(sync_engine) == []


async def test_a_session_of_one_shop_never_sees_another_shops_orders(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    water, grocery = shops["water"].schema, shops["grocery"].schema
    beto = add_customer(sync_engine, water, "5215598765432", name="Beto del Agua")
    add_order(sync_engine, water, beto)
    theirs = add_order(sync_engine, water, beto)  # no order with this id in the grocery store
    ours = add_order(sync_engine, grocery, add_customer(sync_engine, grocery, "5215512345678"))
    assert theirs != ours
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    board = (await browser.get("/panel/")).text
    assert "Beto del Agua" not in board
    seen = await browser.get(f"/panel/orders/{theirs}")
    assert seen.status_code == 404 and "Beto" not in seen.text
    moved = await browser.post(
        f"/panel/orders/{theirs}/status", data={"csrf": csrf, "status": "confirmado"}
    )
    assert moved.status_code == 404
    assert status_of(sync_engine, water, theirs) == "pendiente"
    assert (await browser.get("/panel/orders/99999999999999999999")).status_code == 404


async def test_pages_need_a_session(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    order = add_order(
        sync_engine,
        shops["grocery"].schema,
        add_customer(sync_engine, shops["grocery"].schema, "5215512345678"),
    )
    for path in ("/panel/", "/panel/board", "/panel/events", f"/panel/orders/{order}"):
        answer = await browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/panel/login"
    moved = await browser.post(f"/panel/orders/{order}/status", data={"status": "confirmado"})
    assert moved.status_code == 303


async def test_the_live_feed_sends_the_newest_order_and_the_latest_change(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = shops["grocery"].schema
    order = add_order(sync_engine, schema, add_customer(sync_engine, schema, "5215512345678"))
    await sign_in(browser, sync_engine, shops["grocery"].id)
    # One poll, then the stream ends (the browser's EventSource would reconnect).
    monkeypatch.setattr(routes, "STREAM_S", 0.05)
    monkeypatch.setattr(routes, "POLL_S", 0.1)
    feed = await browser.get("/panel/events")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/event-stream")
    events = [chunk for chunk in feed.text.split("\n\n") if chunk.startswith("event: orders")]
    assert len(events) == 1
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data["latest"] == order and data["changed"]

    # Another shop's new order does not show in this shop's feed.
    water = shops["water"].schema
    beto = add_customer(sync_engine, water, "5215598765432")
    for _ in range(3):
        add_order(sync_engine, water, beto)
    again = await browser.get("/panel/events")
    data = json.loads(again.text.split("event: orders\ndata: ", 1)[1].split("\n", 1)[0])
    assert data["latest"] == order


async def test_the_panels_script_and_styles_are_served_by_the_app(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop]
) -> None:
    script = await browser.get("/panel/static/panel.js")
    assert script.status_code == 200 and "EventSource" in script.text
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert (await browser.get("/panel/static/panel.css")).status_code == 200
    bare = await browser.get("/panel")
    assert bare.status_code in (307, 308) and bare.headers["location"].endswith("/panel/")
