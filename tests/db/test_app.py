"""Health and readiness endpoints."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chatcentral import heap
from chatcentral.app import create_app
from chatcentral.config import Settings
from chatcentral.db.engine import make_engine
from chatcentral.outbox.dispatcher import Dispatcher
from tests.conftest import ProvisionedShop
from tests.support.dbproxy import DatabaseProxy


async def _get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_healthz_and_readyz_with_a_database(
    settings: Settings, async_engine: AsyncEngine
) -> None:
    app = create_app(settings, engine=async_engine)
    async with app.router.lifespan_context(app):
        health = await _get(app, "/healthz")
        ready = await _get(app, "/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "up", "dispatcher": "running"}


async def test_a_server_process_settles_its_heap_once_started(
    settings: Settings, async_engine: AsyncEngine
) -> None:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        plain = create_app(settings, engine=async_engine)
        async with plain.router.lifespan_context(plain):
            assert gc.get_freeze_count() == 0
        server = create_app(settings, engine=async_engine, settle_heap=True)
        async with server.router.lifespan_context(server):
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_readyz_is_503_when_the_database_is_down(settings: Settings) -> None:
    # Nothing listens on port 1: the round trip fails fast.
    dead = create_async_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    app = create_app(settings, engine=dead)
    async with app.router.lifespan_context(app):
        health = await _get(app, "/healthz")
        ready = await _get(app, "/readyz")
    await dead.dispose()
    assert health.status_code == 200
    assert ready.status_code == 503 and ready.json()["database"] == "down"


async def _ready_when(app: object, accept: Callable[[httpx.Response], bool]) -> httpx.Response:
    """GET /readyz until `accept` holds (generous limit); return that answer."""
    response = await _get(app, "/readyz")
    for _ in range(600):
        response = await _get(app, "/readyz")
        if accept(response):
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never gave the expected answer; last: {response.text}")


async def test_readyz_is_503_while_the_dispatcher_is_not_running(
    settings: Settings, async_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(self: Dispatcher, stop: asyncio.Event, **kwargs: Any) -> None:
        raise RuntimeError("a dispatcher that dies at once, every time")

    monkeypatch.setattr(Dispatcher, "run", crash)
    restarts = REGISTRY.get_sample_value("chatcentral_dispatcher_restarts_total") or 0.0
    app = create_app(settings, engine=async_engine, dispatcher=True)
    async with app.router.lifespan_context(app):
        # Between a crash and its restart (the dispatcher keeps crashing): not ready.
        for _ in range(600):
            if (REGISTRY.get_sample_value("chatcentral_dispatcher_restarts_total") or 0) > restarts:
                break
            await asyncio.sleep(0.05)
        ready = await _get(app, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["dispatcher"] == "stopped" and ready.json()["database"] == "up"
    assert ready.json()["reasons"] == ["outbox dispatcher not running"]


async def test_readyz_is_503_when_a_sendable_reply_waits_too_long(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    def queue(recipient: str, due: str) -> None:
        with sync_engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO central.outbox (tenant_id, kind, recipient, payload, due_at) "
                    f"VALUES (:t, 'message', :r, '{{}}', now() + interval '{due}')"
                ),
                {"t": shops["grocery"].id, "r": recipient},
            )

    # A customer in backoff for 5 more minutes, with a reply queued 10 minutes ago behind
    # it: held back on purpose, so it does not count. Another due 30 s ago: within limits.
    queue("525511110001", "5 minutes")
    queue("525511110001", "-10 minutes")
    queue("525522220002", "-30 seconds")
    # No dispatcher here, so nothing is sent while we look.
    app = create_app(settings, engine=async_engine, dispatcher=False)
    async with app.router.lifespan_context(app):
        fine = await _get(app, "/readyz")
        queue("525533330003", "-2 minutes")  # sendable for two minutes and not sent
        late = await _get(app, "/readyz")
    assert (fine.status_code, late.status_code) == (200, 503)
    assert fine.json() == {"status": "ok", "database": "up", "dispatcher": "off"}
    assert late.json()["outbox_overdue_s"] >= 119
    assert late.json()["reasons"][0].startswith("an outbox row has been due for")


async def test_readyz_is_503_during_an_outage_and_ready_again_after(
    settings: Settings, db_proxy: DatabaseProxy
) -> None:
    engine = make_engine(db_proxy.url)
    app = create_app(settings, engine=engine, dispatcher=True)
    async with app.router.lifespan_context(app):
        before = await _get(app, "/readyz")
        db_proxy.cut()
        during = await _get(app, "/readyz")
        db_proxy.restore()
        # Back once the database is, with the dispatcher still running.
        after = await _ready_when(app, lambda r: r.status_code == 200)
    await engine.dispose()
    assert before.status_code == 200, before.text
    assert during.status_code == 503
    assert (
        during.json()["database"] == "down" and "database unreachable" in during.json()["reasons"]
    )
    assert after.json() == {"status": "ok", "database": "up", "dispatcher": "running"}
