"""The speed-critical shapes of the message path, counted, never timed: how many times a
steady-state message or a status webhook waits for PostgreSQL.

libpq's protocol trace records every message between the client and the server in order:
each time the client, having sent, turns to reading the server's answer is one round trip
(a pipeline sends several statements before it reads).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import respx
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.outbox.dispatcher import Dispatcher
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, Client, accepted, post
from tests.support import cloud


class Trace:
    """libpq traces of every connection checked out while it is active."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: list[Any] = []
        self._traced: list[Any] = []

    def attach(self, driver_connection: Any) -> None:
        handle = (self._folder / f"conn{len(self._files)}.trace").open("w")
        self._files.append(handle)
        pgconn = driver_connection.pgconn
        pgconn.trace(handle.fileno())
        self._traced.append(pgconn)
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def stop(self) -> None:
        """Untrace (libpq flushes what it buffered) and close the files."""
        for pgconn in self._traced:
            pgconn.untrace()
        for handle in self._files:
            handle.close()

    def lines(self) -> list[str]:
        return [
            line
            for path in sorted(self._folder.glob("*.trace"))
            for line in path.read_text().splitlines()
        ]

    def round_trips(self) -> int:
        trips = 0
        for path in sorted(self._folder.glob("*.trace")):
            last = ""
            for line in path.read_text().splitlines():
                side = line[:1]
                if side == "B" and last == "F":
                    trips += 1
                if side in ("F", "B"):
                    last = side
        return trips

    def sent(self) -> str:
        """Everything the client sent, statements' SQL included (it spans lines)."""
        return "\n".join(line for line in self.lines() if not line.startswith("B\t"))


@contextmanager
def traced(engine: AsyncEngine, folder: Path) -> Iterator[Trace]:
    """Trace the connections checked out inside the block; read the trace after it."""
    trace = Trace(folder)

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        trace.attach(dbapi_connection.driver_connection)

    event.listen(engine.sync_engine, "checkout", on_checkout)
    try:
        yield trace
    finally:
        event.remove(engine.sync_engine, "checkout", on_checkout)
        trace.stop()


async def test_a_steady_state_message_costs_four_round_trips(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    client, _ = app_client
    customer = "525512345678"
    await post(client, cloud.message_from("1110001", customer, "hola", id="w.1", ts=1_760_000_000))
    with traced(async_engine, tmp_path) as trace:
        await post(
            client, cloud.message_from("1110001", customer, "menú", id="w.2", ts=1_760_000_001)
        )
    sent = trace.sent()
    # BEGIN; record/touch/lock; the customer's facts (the main menu offers
    # their last order again); replies + session + COMMIT.
    assert trace.round_trips() == 4, sent
    schema = shops["grocery"].schema
    assert f'INSERT INTO "{schema}".messages' in sent and "INSERT INTO central.outbox" in sent


async def test_each_shops_statements_are_prepared_for_that_shop_alone(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """Messages of two shops in turn: once warm, a message runs the hot path's statements
    by name (prepared), none parsed again, and no `search_path` is set. One text for every
    shop under a per-transaction search_path was replanned by PostgreSQL at each change
    of shop (a plan is only valid under the search_path it was made with)."""
    client, _ = app_client
    for turn in range(7):  # psycopg prepares a statement at its fifth run on a connection
        for number, customer in (("1110001", "525512345678"), ("2220002", "525587650000")):
            webhook = cloud.message_from(number, customer, "menú", id=f"w.{number}.{turn}")
            await post(client, webhook)
    with traced(async_engine, tmp_path) as trace:
        await post(client, cloud.message_from("1110001", "525512345678", "menú", id="w.last"))
    lines = trace.lines()
    # BEGIN and COMMIT travel in the pipelines as unnamed statements: nothing to plan.
    parsed = [
        line
        for line in lines
        if "\tParse\t" in line and '"BEGIN"' not in line and '"COMMIT"' not in line
    ]
    assert trace.round_trips() == 4, trace.sent()
    assert parsed == [], parsed
    assert not any("search_path" in line for line in lines)


async def test_a_redelivered_message_costs_three_round_trips_and_no_rollback(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    client, _ = app_client
    webhook = cloud.message_from("1110001", "525512345678", "hola", id="w.1", ts=1_760_000_000)
    await post(client, webhook)
    with traced(async_engine, tmp_path) as trace:
        await post(client, webhook)
    sent = trace.sent()
    # BEGIN, OPEN, COMMIT: a ROLLBACK would drop psycopg's prepared statements on this
    # connection (DEALLOCATE ALL).
    assert trace.round_trips() == 3, sent
    assert '"COMMIT"' in sent and "ROLLBACK" not in sent and "DEALLOCATE" not in sent


async def test_a_status_webhook_costs_one_round_trip(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "525512345678", "hola", id="w.1"))
    with traced(async_engine, tmp_path) as trace:
        statuses = [cloud.status("wamid.OUT1", "sent"), cloud.status("wamid.OUT1", "delivered")]
        await post(client, cloud.envelope(cloud.change("1110001", statuses=statuses)))
    sent = trace.sent()
    # One statement in autocommit: no BEGIN, no COMMIT.
    assert trace.round_trips() == 1, sent
    assert "message_statuses" in sent and "BEGIN" not in sent


async def test_looking_up_a_shop_keeps_the_connections_prepared_statements(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    client, _ = app_client
    # The first message for this number: the shop is looked up in central.tenants.
    with traced(async_engine, tmp_path) as trace:
        await post(client, cloud.message_from("2220002", "525512345678", "hola", id="w.1"))
    sent = trace.sent()
    assert "central.tenants" in sent
    assert "ROLLBACK" not in sent and "DEALLOCATE" not in sent


@respx.mock
async def test_a_claim_is_one_round_trip(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    """Between a reply's commit and its send, every round trip is a turn of a busy event
    loop: the claim is one statement in autocommit, no BEGIN or COMMIT of its own."""
    client, _ = app_client
    respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.OUT"))
    await post(client, cloud.message_from("1110001", "525512345678", "hola", id="w.1"))
    with traced(async_engine, tmp_path) as trace:
        assert await dispatcher.dispatch_once() == 1
    sent = trace.sent()
    # The claim; then the accepted send recorded: BEGIN, its statement, COMMIT.
    assert trace.round_trips() == 4, sent
    assert sent.count("BEGIN") == 1, sent
