"""The dispatcher under faults: database outages, crashes of its own, and a process that
dies mid-batch. The database sits behind a proxy the tests cut (tests/support/dbproxy.py); the
Graph API is mocked with respx. Nothing here asserts a duration: each step waits for a
condition with a generous timeout."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.app import create_app
from chatcentral.config import Settings
from chatcentral.db.engine import make_engine
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, accepted, graph_error, post
from tests.support import cloud
from tests.support.dbproxy import DatabaseProxy

ERRORS = "chatcentral_dispatcher_errors_total"
RESTARTS = "chatcentral_dispatcher_restarts_total"


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str, limit_s: float = 30.0
) -> None:
    """Wait until `check()` holds; fail naming `what` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def queue(engine: Engine, tenant_id: int, recipient: str, label: str) -> None:
    """An outbox row written straight into the database (not through the proxy)."""
    body = {
        "messaging_product": "whatsapp",
        "to": "+" + recipient,
        "type": "text",
        "text": {"body": label},
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO central.outbox (tenant_id, kind, recipient, payload) "
                "VALUES (:t, 'message', :r, CAST(:p AS jsonb))"
            ),
            {"t": tenant_id, "r": recipient, "p": json.dumps(body)},
        )


def statuses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM central.outbox ORDER BY id")).scalars())


def all_sent(engine: Engine) -> Callable[[], bool]:
    return lambda: set(statuses(engine)) == {"sent"}


def expire_leases(engine: Engine) -> None:
    """What waiting out the lease would do: leased rows become due again."""
    with engine.begin() as conn:
        # Blocking here would block the test's event loop, and with it whoever holds the
        # lock: fail instead (a dispatcher that keeps rows locked across its sends).
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        conn.execute(text("UPDATE central.outbox SET due_at = now() WHERE status = 'pending'"))


def label_of(request: httpx.Request) -> str:
    """Which call this is: a text's label, a reply's recipient, or a mark-read."""
    body: dict[str, Any] = json.loads(request.content)
    if body.get("status") == "read":
        return f"read:{body['message_id']}"
    if body.get("type") == "text" and "text" in body:
        return str(body["text"]["body"])
    return f"reply:{body['to']}"


def labels(route: respx.Route) -> list[str]:
    return [label_of(call.request) for call in route.calls]


@pytest.fixture
async def proxied(db_proxy: DatabaseProxy) -> AsyncIterator[AsyncEngine]:
    """An engine whose every connection goes through the proxy."""
    engine = make_engine(db_proxy.url)
    yield engine
    await engine.dispose()


# -- the dispatcher survives the database going away ------------------------------------


@respx.mock
async def test_an_idle_dispatcher_survives_an_outage_and_then_drains_the_outbox(
    settings: Settings,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    db_proxy: DatabaseProxy,
    proxied: AsyncEngine,
) -> None:
    route = respx.post(f"{GRAPH}/1110001/messages").mock(
        side_effect=lambda request: accepted(f"wamid.{label_of(request)}")
    )
    app = create_app(settings, engine=proxied, dispatcher=True)
    async with app.router.lifespan_context(app):
        await eventually(app.state.listener.connected.is_set, "the listener to connect")
        failures = metric(ERRORS)
        db_proxy.cut()
        # The outage lasts until the idle dispatcher has run into it (it looks at least
        # every 5 s) more than once.
        await eventually(lambda: metric(ERRORS) >= failures + 2, "the dispatcher to hit the outage")
        queue(sync_engine, shops["grocery"].id, "525511110001", "queued during the outage")
        db_proxy.restore()
        await eventually(all_sent(sync_engine), "the row queued during the outage to be sent")

        # Alive afterwards too: a new customer's message is answered, woken by NOTIFY.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await post(client, cloud.message_from("1110001", "525522220002", "hola"))
        await eventually(all_sent(sync_engine), "the reply after the outage to be sent")
    sent = labels(route)
    assert sent[:2] == ["queued during the outage", "reply:+525522220002"]
    assert len(sent) == 3 and sent[2].startswith("read:")


@respx.mock
async def test_a_dispatcher_with_sends_in_flight_survives_an_outage_and_sends_each_once(
    settings: Settings,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    db_proxy: DatabaseProxy,
    proxied: AsyncEngine,
) -> None:
    ana, beto, carla = "525511110001", "525522220002", "525533330003"
    started, gate = asyncio.Event(), asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        label = label_of(request)
        if label == f"reply:+{ana}" and not started.is_set():
            started.set()
            await gate.wait()  # in flight while the database goes away
        return accepted(f"wamid.{label}")

    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    app = create_app(settings, engine=proxied, dispatcher=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await post(client, cloud.message_from("1110001", ana, "hola", id="wamid.ANA"))
            await eventually(started.is_set, "Ana's reply to be in flight")

            failures = metric(ERRORS)
            db_proxy.cut()
            queue(sync_engine, shops["grocery"].id, beto, "beto 1")
            queue(sync_engine, shops["grocery"].id, beto, "beto 2")
            gate.set()  # Meta accepts Ana's reply while the database is away
            await eventually(
                lambda: metric(ERRORS) >= failures + 2, "the dispatcher to hit the outage"
            )
            db_proxy.restore()
            await eventually(all_sent(sync_engine), "everything queued to be sent")

            await post(client, cloud.message_from("1110001", carla, "hola", id="wamid.CARLA"))
            await eventually(all_sent(sync_engine), "the reply after the outage to be sent")

    sent = labels(route)
    # Each call once: the reply in flight during the outage was recorded, not repeated.
    assert sorted(sent) == sorted(
        [
            f"reply:+{ana}",
            "read:wamid.ANA",
            "beto 1",
            "beto 2",
            f"reply:+{carla}",
            "read:wamid.CARLA",
        ]
    )
    assert sent.index("beto 1") < sent.index("beto 2")
    assert sent.index(f"reply:+{ana}") < sent.index("read:wamid.ANA")
    with sync_engine.connect() as conn:
        status = conn.execute(
            text(
                "SELECT status FROM tenant_tienda.messages WHERE direction = 'out' AND wamid = :w"
            ),
            {"w": f"wamid.reply:+{ana}"},
        ).scalar_one()
    assert status == "accepted"  # recorded once the database was back


# -- the supervisor ------------------------------------------------------------------------


@respx.mock
async def test_the_supervisor_restarts_a_dispatcher_that_raises_or_returns(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    route = respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.R"))
    real_run = Dispatcher.run
    runs = 0

    async def broken_at_first(self: Dispatcher, stop: asyncio.Event, **kwargs: Any) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("a bug in the dispatcher")
        if runs == 2:
            return  # ends without being asked to
        await real_run(self, stop, **kwargs)

    monkeypatch.setattr(Dispatcher, "run", broken_at_first)
    restarts = metric(RESTARTS)
    app = create_app(settings, engine=async_engine, dispatcher=True)
    async with app.router.lifespan_context(app):
        await eventually(lambda: runs >= 3, "the dispatcher to be started a third time")
        queue(sync_engine, shops["grocery"].id, "525511110001", "after the restarts")
        await eventually(all_sent(sync_engine), "the row to be sent by the restarted dispatcher")
    assert metric(RESTARTS) == restarts + 2
    assert labels(route) == ["after the restarts"]


@respx.mock
async def test_chatcentral_worker_is_supervised_too(
    settings: Settings,
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatcentral.bootstrap import run_worker

    respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.W"))
    real_run = Dispatcher.run
    runs = 0

    async def broken_once(self: Dispatcher, stop: asyncio.Event, **kwargs: Any) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("a bug in the dispatcher")
        await real_run(self, stop, **kwargs)

    monkeypatch.setattr(Dispatcher, "run", broken_once)
    queue(sync_engine, shops["grocery"].id, "525511110001", "from the worker")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(db_url, settings, stop))
    try:
        await eventually(
            lambda: worker.done() or set(statuses(sync_engine)) == {"sent"},
            "the worker to send the row",
        )
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    assert statuses(sync_engine) == ["sent"]


# -- a crash mid-batch repeats only the calls in flight ------------------------------------


@respx.mock
@pytest.mark.parametrize("hanging", [1, 3])
async def test_a_crash_mid_batch_repeats_only_the_calls_in_flight(
    hanging: int,
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    customers = [f"5255444{n:05d}" for n in range(8)]
    slow = {f"first {c}" for c in customers[:hanging]}
    first_calls: set[str] = set()
    calls: list[str] = []  # respx only records calls that were answered

    async def answer(request: httpx.Request) -> httpx.Response:
        label = label_of(request)
        calls.append(label)
        if label in slow and label not in first_calls:
            first_calls.add(label)
            await asyncio.sleep(3600)  # Meta never answers this one
        return accepted(f"wamid.{len(calls)}")

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    for customer in customers:
        queue(sync_engine, shops["grocery"].id, customer, f"first {customer}")
    for customer in customers[:hanging]:
        queue(sync_engine, shops["grocery"].id, customer, f"second {customer}")

    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    doomed = asyncio.create_task(
        Dispatcher(async_engine, graph, settings, lease_s=600).dispatch_once()
    )
    # The fast sends are recorded while the slow ones are still in flight: no transaction
    # spans the batch.
    await eventually(
        lambda: statuses(sync_engine).count("sent") == len(customers) - hanging,
        "the answered sends to be recorded",
    )
    assert not doomed.done() and first_calls == slow
    doomed.cancel()  # the process dies with `hanging` calls in flight
    with pytest.raises(asyncio.CancelledError):
        await doomed

    second = Dispatcher(async_engine, graph, settings)
    # While the lease holds, nothing of those customers moves: neither the rows in flight
    # nor the replies queued behind them.
    assert await second.dispatch_once() == 0
    expire_leases(sync_engine)
    while await second.dispatch_once():
        pass
    await graph.aclose()

    assert set(statuses(sync_engine)) == {"sent"}
    sent = calls
    repeats = len(sent) - len(set(sent))
    assert repeats == hanging  # the calls in flight, not the batch of len(customers)
    for customer in customers[:hanging]:
        firsts = [i for i, label in enumerate(sent) if label == f"first {customer}"]
        assert len(firsts) == 2 and sent.index(f"second {customer}") > firsts[1]


@respx.mock
async def test_a_result_that_comes_back_after_its_lease_was_taken_over_changes_nothing(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    started, gate = asyncio.Event(), asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if not started.is_set():
            started.set()
            await gate.wait()
            return httpx.Response(500, json={"error": {"code": 131000, "message": "late"}})
        return accepted("wamid.SECOND")

    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    queue(sync_engine, shops["grocery"].id, "525511110001", "once")
    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    slow = asyncio.create_task(Dispatcher(async_engine, graph, settings).dispatch_once())
    await eventually(started.is_set, "the first send to be in flight")

    expire_leases(sync_engine)  # the slow dispatcher's lease runs out
    assert await Dispatcher(async_engine, graph, settings).dispatch_once() == 1
    gate.set()  # the first dispatcher's (failed) answer finally arrives
    assert await asyncio.wait_for(slow, 30) == 1
    await graph.aclose()

    with sync_engine.connect() as conn:
        row = conn.execute(text("SELECT status, attempts, last_error FROM central.outbox")).one()
    assert tuple(row) == ("sent", 1, None)  # the late failure was not written over it
    assert route.call_count == 2


# -- a result whose full record keeps failing is still recorded -----------------------------


@respx.mock
async def test_a_failure_hook_that_raises_does_not_make_the_row_go_out_again(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    """A bug in an alert must not turn one failed send into the same send every minute."""
    route = respx.post(f"{GRAPH}/1110001/messages").mock(
        return_value=graph_error(400, 131026, "undeliverable")
    )

    async def broken_hook(*_: Any) -> None:
        raise RuntimeError("a bug in an alert")

    queue(sync_engine, shops["grocery"].id, "525511110009", "to nobody")
    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    dispatcher = Dispatcher(async_engine, graph, settings, failure_hooks=[broken_hook])
    try:
        await dispatcher.dispatch_once()
        assert statuses(sync_engine) == ["failed"]
        expire_leases(sync_engine)
        assert await dispatcher.dispatch_once() == 0
    finally:
        await graph.aclose()
    assert len(route.calls) == 1
