"""Refill reminders against real PostgreSQL: the job queues the template once per
interval, never after "no más recordatorios", never while the shop is closed; its button
starts the repeat-order path through the real webhook."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.reminders.job import ReminderJob, describe, remind_shop, run_once
from chatcentral.tenancy.directory import load_shops
from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer
from tests.support.plans import on_plan

Client = tuple[httpx.AsyncClient, Starlette]
WATER = "2220002"
SCHEMA = "tenant_agua"


@pytest.fixture(autouse=True)
def on_a_plan_with_reminders(shops: dict[str, ProvisionedShop], sync_engine: Engine) -> None:
    """Reminders are part of Completo and Premium; the test shops start on Básico."""
    on_plan(sync_engine, "complete")


def seed_orders(
    engine: Engine, customer: Customer, days_ago: list[float], status: str = "entregado"
) -> None:
    """Orders of two refills placed `days_ago` days before now (the customer exists)."""
    with engine.begin() as conn:
        customer_id = conn.execute(
            text(f"SELECT id FROM {SCHEMA}.customers WHERE wa_id = :w"), {"w": customer.recipient}
        ).scalar_one()
        product = conn.execute(
            text(
                f"SELECT id, name, unit, price FROM {SCHEMA}.products "
                "WHERE name = 'Garrafón 20 L (recarga)'"
            )
        ).one()
        status_id = conn.execute(
            text(f"SELECT id FROM {SCHEMA}.order_status WHERE code = :c"), {"c": status}
        ).scalar_one()
        for days in sorted(days_ago, reverse=True):
            order_id = conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.orders (customer_id, status_id, fulfillment, "
                    "subtotal, total, created_at, status_changed_at) VALUES (:c, :s, "
                    "'delivery', :t, :t, now() - make_interval(secs => :secs), now()) "
                    "RETURNING id"
                ),
                {"c": customer_id, "s": status_id, "t": product.price * 2, "secs": days * 86400},
            ).scalar_one()
            conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.order_items (order_id, product_id, product_name, "
                    "unit, quantity, unit_price, line_total) VALUES (:o, :p, :n, :u, 2, :pr, :t)"
                ),
                {
                    "o": order_id,
                    "p": product.id,
                    "n": product.name,
                    "u": product.unit,
                    "pr": product.price,
                    "t": product.price * 2,
                },
            )


def reminders(engine: Engine, customer: Customer | None = None) -> list[dict[str, Any]]:
    """Reminder templates queued in the outbox (for one customer, or anyone)."""
    sql = (
        "SELECT recipient, payload FROM central.outbox WHERE kind = 'message' "
        "AND payload->'template'->>'name' = 'recordatorio_recarga'"
    )
    params: dict[str, Any] = {}
    if customer is not None:
        sql += " AND recipient = :r"
        params["r"] = customer.recipient
    with engine.connect() as conn:
        return [dict(row.payload) for row in conn.execute(text(sql + " ORDER BY id"), params)]


def set_hours(engine: Engine, hours: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET business_hours = CAST(:h AS jsonb) WHERE slug = 'agua'"
            ),
            {"h": json.dumps(hours)},
        )


async def customer_with_orders(
    client: httpx.AsyncClient, engine: Engine, wa_id: str, name: str, days_ago: list[float]
) -> Customer:
    person = Customer(client, engine, WATER, wa_id=wa_id, name=name)
    await person.says("hola")
    seed_orders(engine, person, days_ago)
    return person


async def test_a_due_customer_is_reminded_once_per_interval_and_the_button_orders(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    # Ana orders every 7 days; her last order was 8 days ago: due.
    ana = await customer_with_orders(client, sync_engine, "5215511110001", "Ana López", [22, 15, 8])
    # Beto ordered once: no usual interval yet. Carla every 7 days, last 3 days ago: not yet.
    beto = await customer_with_orders(client, sync_engine, "5215511110002", "Beto", [30])
    carla = await customer_with_orders(client, sync_engine, "5215511110003", "Carla", [10, 3])
    now = datetime.now(UTC)

    await run_once(async_engine, now)
    await run_once(async_engine, now + timedelta(minutes=10))  # the next tick
    [sent] = reminders(sync_engine)  # Ana's alone: Beto has one order, Carla is not due yet
    assert reminders(sync_engine, ana) == [sent]
    assert sent["to"] == "+" + ana.recipient and sent["type"] == "template"
    template = sent["template"]
    assert template["name"] == "recordatorio_recarga"
    assert template["language"] == {"code": "es_MX"}
    body, stop_button = template["components"][0], template["components"][2]
    assert [p["text"] for p in body["parameters"]] == [
        "Ana",
        "2 garrafones Garrafón 20 L (recarga)",
    ]
    assert template["components"][1]["parameters"] == [
        {"type": "payload", "payload": "repeat:usual"}
    ]
    assert stop_button["parameters"] == [{"type": "payload", "payload": "reminders:stop"}]
    with sync_engine.connect() as conn:
        stamped = conn.execute(
            text(f"SELECT wa_id, last_reminded_at FROM {SCHEMA}.customers ORDER BY id")
        ).all()
    assert [row.last_reminded_at is not None for row in stamped] == [True, False, False]
    # the message row beside it, tied to Ana
    with sync_engine.connect() as conn:
        [row] = conn.execute(
            text(f"SELECT type, direction FROM {SCHEMA}.messages WHERE type = 'template'")
        ).all()
    assert tuple(row) == ("template", "out")

    # Within her interval: no second reminder, even days later.
    await run_once(async_engine, now + timedelta(days=3))
    await run_once(async_engine, now + timedelta(days=6, hours=23))
    assert len(reminders(sync_engine, ana)) == 1
    # A whole interval after the first: one more (never more than one per interval).
    await run_once(async_engine, now + timedelta(days=7, hours=1))
    await run_once(async_engine, now + timedelta(days=7, hours=2))
    assert len(reminders(sync_engine, ana)) == 2
    # Carla fell due on day 4 (last order 3 days ago, every 7 days): one, at the day-6 tick.
    assert len(reminders(sync_engine, carla)) == 1
    assert reminders(sync_engine, beto) == []

    # Her tap on "Pedir lo de siempre" takes the "Sí, lo de siempre" path.
    replies = await ana._send(
        {"type": "button", "button": {"payload": "repeat:usual", "text": "Pedir lo de siempre"}}
    )
    assert replies, "the tap must be answered"
    assert "¿Cuántos garrafones vacíos" in ana.text_of_last()
    assert "2 recarga(s)" in ana.text_of_last()


async def test_no_mas_recordatorios_stops_them_and_is_confirmed(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    ana = await customer_with_orders(client, sync_engine, "5215511110001", "Ana", [22, 15, 8])
    beto = await customer_with_orders(client, sync_engine, "5215511110002", "Beto", [22, 15, 8])
    await ana.says("pedido")  # in the middle of something: the command works anyway
    await ana.says("No más recordatorios")
    assert "ya no te enviaremos recordatorios" in ana.text_of_last()
    assert "¿Lo de siempre?" in ana.text_of_last()  # and she is where she was
    # Beto taps the template's own "No más recordatorios" button.
    await beto._send(
        {"type": "button", "button": {"payload": "reminders:stop", "text": "No más recordatorios"}}
    )
    assert "ya no te enviaremos recordatorios" in beto.text_of_last()
    with sync_engine.connect() as conn:
        opted = conn.execute(
            text(f"SELECT reminders_opt_out FROM {SCHEMA}.customers ORDER BY id")
        ).scalars()
        assert list(opted) == [True, True]
    await run_once(async_engine, datetime.now(UTC))
    assert reminders(sync_engine) == []

    # "activar recordatorios" turns them back on.
    await ana.says("activar recordatorios")
    assert "volveremos a recordarte" in ana.text_of_last()
    await run_once(async_engine, datetime.now(UTC))
    assert len(reminders(sync_engine, ana)) == 1 and reminders(sync_engine, beto) == []


async def test_never_while_the_shop_is_closed_or_on_a_holiday(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    ana = await customer_with_orders(client, sync_engine, "5215511110001", "Ana", [22, 15, 8])
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("America/Mexico_City")).date()
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    set_hours(sync_engine, {**always, "holidays": [today.isoformat()]})
    await run_once(async_engine, now)
    assert reminders(sync_engine) == []
    [shop] = await load_shops(async_engine, "agua")
    report = await remind_shop(async_engine, shop, now, dry_run=True)
    lines = describe(report)
    assert "agua: closed now; nothing is sent before it opens" in lines[0]
    assert any(line.startswith("skip") and "+" + ana.recipient in line for line in lines)

    # Open one minute a week, not now.
    local = now.astimezone(ZoneInfo("America/Mexico_City"))
    minute = ["12:00", "12:01"] if local.hour != 12 else ["00:00", "00:01"]
    set_hours(
        sync_engine, {("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]: [minute]}
    )
    await run_once(async_engine, now)
    assert reminders(sync_engine) == []
    set_hours(sync_engine, always)
    await run_once(async_engine, now)
    assert len(reminders(sync_engine, ana)) == 1


async def test_two_processes_on_the_same_tick_send_one_reminder(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    people = [
        await customer_with_orders(client, sync_engine, f"52155111100{n:02d}", f"C{n}", [15, 8])
        for n in range(1, 6)
    ]
    now = datetime.now(UTC)
    await asyncio.gather(*(run_once(async_engine, now) for _ in range(4)))
    for person in people:
        assert len(reminders(sync_engine, person)) == 1


async def test_an_order_in_progress_or_a_grocery_shop_gets_no_reminder(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    # Ana orders daily; yesterday's order is still on its way: no reminder on top of it.
    ana = await customer_with_orders(client, sync_engine, "5215511110001", "Ana", [3, 2])
    seed_orders(sync_engine, ana, [1.5], status="en_camino")
    # Beto's last order was never marked delivered by the shop: it does not silence him.
    beto = await customer_with_orders(client, sync_engine, "5215511110002", "Beto", [22, 15])
    seed_orders(sync_engine, beto, [9], status="pendiente")
    grocery = Customer(client, sync_engine, "1110001", wa_id="5215511110009", name="Gina")
    await grocery.says("hola")
    seed_grocery = text(
        "INSERT INTO tenant_tienda.orders (customer_id, status_id, fulfillment, subtotal, "
        "total, created_at) SELECT c.id, s.id, 'pickup', 50, 50, now() - make_interval(days => d) "
        "FROM tenant_tienda.customers c, tenant_tienda.order_status s, "
        "(VALUES (30), (20), (10)) AS v(d) WHERE s.code = 'entregado'"
    )
    with sync_engine.begin() as conn:
        conn.execute(seed_grocery)
    await run_once(async_engine, datetime.now(UTC))
    assert reminders(sync_engine, ana) == [] and reminders(sync_engine, grocery) == []
    assert len(reminders(sync_engine, beto)) == 1
    [shop] = await load_shops(async_engine, "agua")
    report = await remind_shop(async_engine, shop, datetime.now(UTC), dry_run=True)
    assert report.candidates[0].verdict.reason == "an order is in progress"


async def test_the_scheduled_job_sends_and_outlives_a_failed_pass(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    ana = await customer_with_orders(client, sync_engine, "5215511110001", "Ana", [15, 8])
    ticks: list[datetime] = []

    def clock() -> datetime:
        ticks.append(datetime.now(UTC))
        if len(ticks) == 1:
            raise RuntimeError("a pass that fails")  # the job logs it and goes on
        return ticks[-1]

    stop = asyncio.Event()
    task = ReminderJob(async_engine, 0.05, clock).start(stop)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(ticks) >= 4:
            break
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert len(ticks) >= 4
    assert len(reminders(sync_engine, ana)) == 1


async def test_a_shop_on_basico_sends_no_reminders(
    shops: dict[str, ProvisionedShop], sync_engine: Engine, async_engine: AsyncEngine
) -> None:
    on_plan(sync_engine, "basic")
    [water] = [shop for shop in await load_shops(async_engine) if shop.slug == "agua"]
    report = await remind_shop(async_engine, water, datetime.now(UTC), dry_run=True)
    assert not report.enabled
