"""Accepted sends recorded together: one transaction for the sends that end together,
the lease fence kept per row, and a failed write handed back to the one-row path."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta
from pathlib import Path

import httpx
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.outbox.recorder import AcceptedRecorder
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, Client, accepted, post
from tests.db.test_round_trips import traced
from tests.support import cloud


async def customers_write(client: httpx.AsyncClient, count: int) -> None:
    for n in range(count):
        await post(
            client, cloud.message_from("1110001", f"52155123400{n:02d}", "hola", id=f"wamid.IN{n}")
        )


def out_messages(engine: Engine) -> list[tuple[str | None, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT wamid, status FROM tenant_tienda.messages "
                "WHERE direction = 'out' ORDER BY id"
            )
        ).all()
    return [(row.wamid, row.status) for row in rows]


async def test_sends_that_end_together_share_one_transaction_and_keep_their_fence(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    async_engine: AsyncEngine,
    sync_engine: Engine,
    tmp_path: Path,
) -> None:
    client, _ = app_client
    await customers_write(client, 8)
    rows = await dispatcher._claim(32, [])
    assert len(rows) == 8
    # Meta's "delivered" for the first reply beat the dispatcher to it.
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.message_statuses (wamid, status) "
                "VALUES ('wamid.OUT0', 'delivered')"
            )
        )
    # The last row's lease ran out and another dispatcher took it over.
    stale = dataclasses.replace(rows[-1], leased_until=rows[-1].leased_until - timedelta(1))
    recorder = AcceptedRecorder(async_engine, [])
    with traced(async_engine, tmp_path) as trace:
        written = await asyncio.gather(
            *(recorder.record(row, f"wamid.OUT{n}") for n, row in enumerate(rows[:-1])),
            recorder.record(stale, "wamid.OUT7"),
        )
    assert written == [True] * 7 + [False]
    assert trace.sent().count('"COMMIT"') == 1
    messages = out_messages(sync_engine)
    assert messages[0] == ("wamid.OUT0", "delivered")
    assert messages[1:7] == [(f"wamid.OUT{n}", "accepted") for n in range(1, 7)]
    assert messages[7] == (None, "queued")  # not ours to record any more
    with sync_engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM central.outbox ORDER BY id")).scalars()
        assert list(statuses) == ["sent"] * 7 + ["pending"]


@respx.mock
async def test_a_write_that_fails_falls_back_to_recording_each_row(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    await customers_write(client, 4)
    numbers = itertools.count()

    def answer(request: httpx.Request) -> httpx.Response:
        if b'"status":"read"' in request.content.replace(b" ", b""):
            return httpx.Response(200, json={"success": True})
        n = next(numbers)
        # Meta never reuses a wamid; here one reply gets an inbound message's, so its
        # message row cannot take it and the shared write fails.
        return accepted("wamid.IN0" if n == 2 else f"wamid.OUT{n}")

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    assert await dispatcher.dispatch_once() == 4
    with sync_engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM central.outbox ORDER BY id")).scalars()
        assert list(statuses) == ["sent"] * 4  # the bad one recorded bare, never resent
    recorded = [wamid for wamid, _ in out_messages(sync_engine)]
    assert sorted(w for w in recorded if w) == ["wamid.OUT0", "wamid.OUT1", "wamid.OUT3"]
