"""Retention: `chatcentral purge` and the worker's daily pass erase old message bodies, shop
by shop; recent messages and every order stay as they were."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.app import create_app
from chatcentral.cli import main
from chatcentral.config import Settings
from chatcentral.media.store import make_store
from chatcentral.retention.job import RetentionJob
from chatcentral.retention.purge import purge
from tests.conftest import ProvisionedShop
from tests.db.test_conversation import grocery_cart
from tests.db.test_dispatcher import accepted
from tests.db.test_dispatcher_faults import eventually
from tests.support.conversation import Customer

Client = tuple[httpx.AsyncClient, Starlette]
OLD_NOTE = "Dejar con el portero, edificio azul"


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql)).all()]


def bodies(engine: Engine, schema: str) -> dict[str, dict[str, Any]]:
    """Each message's body by wamid (or id for outbound rows not yet sent)."""
    return {
        str(wamid or f"id{id_}"): body
        for id_, wamid, body in rows(engine, f"SELECT id, wamid, body FROM {schema}.messages")
    }


def orders(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(engine, "SELECT * FROM tenant_tienda.orders ORDER BY id") + rows(
        engine, "SELECT * FROM tenant_tienda.order_items ORDER BY id"
    )


def age(engine: Engine, schema: str, days: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {schema}.messages SET created_at = created_at - make_interval(days => :d)"
            ),
            {"d": days},
        )


async def an_old_order_and_a_new_hello(
    client: httpx.AsyncClient, engine: Engine
) -> tuple[Customer, Customer]:
    """Ana ordered (with a note and a receipt photo) 200 days ago; Luis wrote today; the
    water shop had an old conversation too."""
    ana = Customer(client, engine, "1110001")
    await grocery_cart(ana)
    await ana.taps(1)  # Finalizar pedido
    await ana.taps(1)  # Entrega a domicilio
    await ana.shares_location(19.43, -99.13, "Casa", "Av. Reforma 222")
    await ana.taps(1)  # Efectivo
    await ana.says("300")
    await ana.says(OLD_NOTE)
    await ana.taps(1)  # Confirmar
    await ana.sends_photo("MEDIA-RECEIPT-1")  # the receipt, afterwards
    pedro = Customer(client, engine, "2220002", wa_id="5215511110000", name="Pedro")
    await pedro.says("hola")
    age(engine, "tenant_tienda", 200)
    age(engine, "tenant_agua", 200)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO central.unhandled_updates (phone_number_id, field, reason, payload,"
                " received_at) VALUES ('1110001', 'messages', 'test', "
                """'{"text": {"body": "viejo"}}', now() - interval '200 days'), """
                "('1110001', 'messages', 'test', '{\"text\": {\"body\": \"nuevo\"}}', now())"
            )
        )
    luis = Customer(client, engine, "1110001", wa_id="5215599998888", name="Luis")
    await luis.says("hola, ¿abren hoy?")
    return ana, luis


def purged(body: dict[str, Any]) -> bool:
    return set(body) == {"purged_at"}


async def test_purge_erases_old_bodies_keeps_recent_ones_and_every_order(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cli_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, _ = app_client
    await an_old_order_and_a_new_hello(client, sync_engine)
    before_orders = orders(sync_engine)
    assert len(before_orders) > 1  # the order and its items
    before = bodies(sync_engine, "tenant_tienda")
    dumped = json.dumps(before, ensure_ascii=False)
    assert OLD_NOTE in dumped and "MEDIA-RECEIPT-1" in dumped

    # Dry run: the counts, and nothing changes.
    assert await asyncio.to_thread(main, ["purge", "--older-than", "180d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tienda: would erase" in out and "(1 with media), 1 unhandled webhook payload" in out
    assert "agua: would erase" in out
    assert bodies(sync_engine, "tenant_tienda") == before

    assert await asyncio.to_thread(main, ["purge", "--older-than", "180d"]) == 0
    out = capsys.readouterr().out
    after = bodies(sync_engine, "tenant_tienda")
    recent = {w: b for w, b in after.items() if not purged(b)}
    # Only Luis's message of today and the bot's answer to it kept their bodies.
    assert json.dumps(recent, ensure_ascii=False).count("¿abren hoy?") == 1
    assert all(before[w] == b for w, b in recent.items())
    erased = [w for w, b in after.items() if purged(b)]
    assert len(erased) == len(before) - len(recent) > 20
    assert OLD_NOTE not in json.dumps(after) and "MEDIA-RECEIPT-1" not in json.dumps(after)
    assert f"tienda: erased {len(erased)} message bodies (1 with media)" in out
    assert all(purged(b) for b in bodies(sync_engine, "tenant_agua").values())
    # Orders, items and totals: exactly as before. So are the messages' other columns.
    assert orders(sync_engine) == before_orders
    assert rows(
        sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE type = 'image'"
    ) == [(1,)]
    unhandled = rows(sync_engine, "SELECT payload FROM central.unhandled_updates ORDER BY id")
    assert purged(unhandled[0][0]) and unhandled[1][0] == {"text": {"body": "nuevo"}}

    # A second pass finds nothing left to erase.
    assert await asyncio.to_thread(main, ["purge", "--older-than", "180d"]) == 0
    assert "tienda: nothing to erase" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["180", "soon", "0d", "1.5d", "5 days", "6m", "999999d"])
def test_a_bad_period_exits_non_zero_with_one_line(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["purge", "--older-than", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("chatcentral purge: error: argument --older-than: ")
    assert "is not a period like 180d" in err


@respx.mock
async def test_the_worker_erases_old_bodies_when_retention_is_configured(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    keep_180 = settings.model_copy(update={"chatcentral_retention_days": 180})
    respx.post(url__regex=r"/messages$").mock(return_value=accepted("wamid.OUT"))
    app = create_app(settings, engine=async_engine, dispatcher=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await an_old_order_and_a_new_hello(client, sync_engine)
    before_orders = orders(sync_engine)

    # A sending process with CHATCENTRAL_RETENTION_DAYS set runs the pass at start.
    worker = create_app(keep_180, engine=async_engine, dispatcher=True)
    async with worker.router.lifespan_context(worker):

        def luis_alone_kept() -> bool:
            kept = [b for b in bodies(sync_engine, "tenant_tienda").values() if not purged(b)]
            return 0 < len(kept) <= 2

        await eventually(luis_alone_kept, "the old bodies to be erased")
    assert orders(sync_engine) == before_orders


async def test_the_job_runs_again_after_its_interval(
    async_engine: AsyncEngine, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    now = [datetime.now(UTC)]
    job = RetentionJob(async_engine, 30, lambda: now[0], interval=0.05)
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.messages (direction, type, body, status, created_at) "
                """VALUES ('in', 'text', '{"text": {"body": "uno"}}', 'received', now())"""
            )
        )
    stop = asyncio.Event()
    task = job.start(stop)
    try:
        await asyncio.sleep(0.2)
        assert not purged(next(iter(bodies(sync_engine, "tenant_tienda").values())))
        now[0] += timedelta(days=31)  # a month later, the next daily pass
        await eventually(
            lambda: all(purged(b) for b in bodies(sync_engine, "tenant_tienda").values()),
            "the next pass",
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_purge_deletes_the_stored_media_of_old_messages_and_keeps_recent_ones(
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
) -> None:
    store = make_store(settings)
    for key in ("tenant_tienda/old.jpg", "tenant_tienda/new.jpg"):
        await store.put(key, io.BytesIO(b"photo " + key.encode()), "image/jpeg")
    with sync_engine.begin() as conn:
        for key, age in (("tenant_tienda/old.jpg", 200), ("tenant_tienda/new.jpg", 1)):
            conn.execute(
                text(
                    "INSERT INTO tenant_tienda.messages (direction, type, body, status, "
                    "media_state, media_key, media_mime, created_at) VALUES ('in', 'image', "
                    """'{"image": {"id": "M"}}', 'received', 'stored', :k, 'image/jpeg', """
                    "now() - make_interval(days => :d))"
                ),
                {"k": key, "d": age},
            )
    report = await purge(async_engine, datetime.now(UTC) - timedelta(days=180), store=store)
    [tienda] = [shop for shop in report.shops if shop.slug == "tienda"]
    assert tienda.objects == 1 and "1 stored media object(s) deleted" in tienda.line(dry_run=False)
    with pytest.raises(KeyError):  # the store has no such object any more
        await store.get("tenant_tienda/old.jpg")
    assert await store.get("tenant_tienda/new.jpg") == b"photo tenant_tienda/new.jpg"
    with sync_engine.connect() as conn:
        kept = conn.execute(
            text("SELECT media_key FROM tenant_tienda.messages ORDER BY created_at")
        ).scalars()
        assert list(kept) == [None, "tenant_tienda/new.jpg"]
