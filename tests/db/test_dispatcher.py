"""The outbox dispatcher against a real PostgreSQL, the Graph API mocked with respx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.config import Settings
from chatcentral.models.central import AuditLog, Outbox
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.support import cloud

GRAPH = "https://graph.facebook.com/v25.0"
Client = tuple[httpx.AsyncClient, Starlette]


def accepted(wamid: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+525512345678", "wa_id": "525512345678"}],
            "messages": [{"id": wamid}],
        },
    )


def graph_error(status: int, code: int, message: str = "error") -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": "OAuthException", "code": code}}
    )


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    raw, headers = cloud.signed(body)
    response = await client.post("/webhook", content=raw, headers=headers)
    assert response.status_code == 200


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    Outbox.id,
                    Outbox.kind,
                    Outbox.recipient,
                    Outbox.status,
                    Outbox.attempts,
                    Outbox.error_code,
                ).order_by(Outbox.id)
            ).all()
        )


def make_due(engine: Engine) -> None:
    """Skip the backoff wait: everything pending becomes due now."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE central.outbox SET due_at = now() WHERE status = 'pending'"))


def sent_bodies(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


@respx.mock
async def test_replies_are_sent_then_marked_read_and_the_wamid_stored(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    route = respx.post(f"{GRAPH}/1110001/messages").mock(
        side_effect=[accepted("wamid.OUT1"), httpx.Response(200, json={"success": True})]
    )
    inbound = cloud.message_from("1110001", "5215512345678", "hola", id="wamid.IN1")
    await post(client, inbound)

    # One outbox row: the reply carries the mark-read of the message it answers.
    [queued] = outbox_rows(sync_engine)
    assert queued.kind == "message"
    assert await dispatcher.dispatch_once() == 1  # the reply, then (not queued) its mark-read
    assert await dispatcher.dispatch_once() == 0

    reply, mark = sent_bodies(route)
    assert reply["to"] == "+525512345678" and reply["messaging_product"] == "whatsapp"
    assert reply["type"] == "interactive" and reply["interactive"]["type"] == "list"
    assert mark == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    assert route.calls[0].request.headers["Authorization"] == "Bearer test-access-token"
    with sync_engine.connect() as conn:
        row = conn.execute(
            text("SELECT wamid, status FROM tenant_tienda.messages WHERE direction = 'out'")
        ).one()
    assert tuple(row) == ("wamid.OUT1", "accepted")
    assert [r.status for r in outbox_rows(sync_engine)] == ["sent"]


@respx.mock
async def test_a_500_is_retried_until_it_succeeds(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    route = respx.post(f"{GRAPH}/1110001/messages").mock(
        side_effect=[
            graph_error(500, 131000, "Something went wrong"),
            httpx.Response(503, text="upstream unavailable"),
            httpx.TimeoutException("slow"),
            accepted("wamid.OUT2"),
        ]
    )
    await post(client, cloud.message_from("1110001", "525512345678", "hola"))
    for attempt in range(1, 4):
        assert await dispatcher.dispatch_once() == 1
        reply = outbox_rows(sync_engine)[0]
        assert (reply.status, reply.attempts) == ("pending", attempt)
        assert await dispatcher.dispatch_once() == 0  # backing off: not due yet
        make_due(sync_engine)
    assert await dispatcher.dispatch_once() == 1
    reply = outbox_rows(sync_engine)[0]
    assert (reply.status, reply.attempts) == ("sent", 4)
    assert route.call_count == 4


@respx.mock
async def test_a_permanent_error_is_not_retried_and_is_alerted(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    route = respx.post(f"{GRAPH}/1110001/messages").mock(
        return_value=graph_error(400, 131009, "(#131009) Parameter value is not valid")
    )
    await post(client, cloud.message_from("1110001", "525512345678", "hola"))
    assert await dispatcher.dispatch_once() == 1
    make_due(sync_engine)
    # The reply failed for good: it is never retried, and its mark-read is not sent either
    # (no blue ticks on a message nobody answered).
    assert await dispatcher.dispatch_once() == 0
    [reply] = outbox_rows(sync_engine)
    assert (reply.status, reply.attempts, reply.error_code) == ("failed", 1, 131009)
    assert route.call_count == 1
    assert "status" not in json.loads(route.calls[0].request.content)
    with sync_engine.connect() as conn:
        message = conn.execute(
            text("SELECT status, error_code FROM tenant_tienda.messages WHERE direction='out'")
        ).one()
        alert = conn.execute(
            select(AuditLog.action, AuditLog.details).where(AuditLog.actor == "dispatcher")
        ).one()
        shop_alert = conn.execute(
            text("SELECT kind, payload FROM tenant_tienda.notifications")
        ).one()
    assert tuple(message) == ("failed", 131009)
    assert alert.action == "outbox.failed" and alert.details["code"] == 131009
    assert shop_alert.kind == "delivery.failed" and shop_alert.payload["code"] == 131009


@respx.mock
async def test_pair_rate_limit_backs_off_one_customer_only_and_keeps_order(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    ana, beto = "525511110000", "525522220000"

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("to") == "+" + ana and body.get("type") and not answer.ana_limited:
            answer.ana_limited = True
            return graph_error(400, 131056, "pair rate limit hit")
        return accepted(f"wamid.{len(route.calls)}")

    answer.ana_limited = False  # type: ignore[attr-defined]
    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    await post(client, cloud.message_from("1110001", ana, "primero", ts=1_760_000_000))
    await post(client, cloud.message_from("1110001", ana, "segundo", ts=1_760_000_001))
    await post(client, cloud.message_from("1110001", beto, "hola", ts=1_760_000_002))

    assert await dispatcher.dispatch_once() == 2  # Ana's first reply and Beto's reply
    assert await dispatcher.dispatch_once() == 0  # Ana waits (backoff)
    ana_rows = [r for r in outbox_rows(sync_engine) if r.recipient == ana]
    assert [r.status for r in ana_rows] == ["pending"] * 2
    assert ana_rows[0].error_code == 131056
    make_due(sync_engine)
    for _ in range(2):
        assert await dispatcher.dispatch_once() == 1  # Ana's queue, strictly in order
    to_ana = [b for b in sent_bodies(route) if b.get("to") == "+" + ana or "status" in b]
    kinds = [("read" if "status" in b else "reply") for b in to_ana]
    assert kinds[-4:] == ["reply", "read", "reply", "read"]
    assert all(r.status == "sent" for r in outbox_rows(sync_engine))


@respx.mock
async def test_a_dispatcher_killed_mid_send_loses_nothing(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    settings: Settings,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(60)
        return accepted("never")

    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=hang)
    await post(client, cloud.message_from("1110001", "525512345678", "hola"))

    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    doomed = asyncio.create_task(Dispatcher(async_engine, graph, settings).dispatch_once())
    await asyncio.wait_for(started.wait(), 10)
    doomed.cancel()  # the process dies between commit of the reply and its send
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert [(r.status, r.attempts) for r in outbox_rows(sync_engine)] == [("pending", 0)]

    route.mock(side_effect=None, return_value=accepted("wamid.AFTER"))
    restarted = Dispatcher(async_engine, graph, settings)
    assert await restarted.dispatch_once() == 0  # the dead dispatcher's lease still holds
    make_due(sync_engine)  # the lease runs out
    assert await restarted.dispatch_once() == 1
    await graph.aclose()
    assert [r.status for r in outbox_rows(sync_engine)] == ["sent"]
    assert sent_bodies(route)[-1]["status"] == "read"  # the mark-read, after the reply


@respx.mock
async def test_statuses_update_outbound_rows_never_backwards(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.OUT3"))
    await post(client, cloud.message_from("1110001", "525512345678", "hola"))
    await dispatcher.dispatch_once()

    def status_of() -> tuple[str, int | None]:
        with sync_engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT status, error_code FROM tenant_tienda.messages "
                    "WHERE wamid = 'wamid.OUT3'"
                )
            ).one()
        return row.status, row.error_code

    await post(
        client,
        cloud.envelope(
            cloud.change(
                "1110001",
                statuses=[
                    cloud.status("wamid.OUT3", "sent", ts=1),
                    cloud.status("wamid.OUT3", "delivered", ts=2),
                ],
            )
        ),
    )
    assert status_of() == ("delivered", None)
    await post(
        client,
        cloud.envelope(
            cloud.change("1110001", statuses=[cloud.status("wamid.OUT3", "read", ts=3)])
        ),
    )
    await post(
        client,
        cloud.envelope(
            cloud.change("1110001", statuses=[cloud.status("wamid.OUT3", "delivered", ts=2)])
        ),
    )  # late: changes nothing
    await post(
        client,
        cloud.envelope(
            cloud.change("1110001", statuses=[cloud.status("wamid.OUT3", "read", ts=3)])
        ),
    )  # Meta's retry: a no-op
    assert status_of() == ("read", None)
    with sync_engine.connect() as conn:
        recorded = (
            conn.execute(text("SELECT status FROM tenant_tienda.message_statuses ORDER BY id"))
            .scalars()
            .all()
        )
    assert recorded == ["sent", "delivered", "read"]


@respx.mock
async def test_a_status_that_beats_the_dispatcher_is_not_lost(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.FAST"))
    await post(client, cloud.message_from("1110001", "525512345678", "hola"))
    # Meta reports delivery before our send transaction recorded the wamid.
    await post(
        client,
        cloud.envelope(
            cloud.change(
                "1110001", statuses=[cloud.status("wamid.FAST", "failed", error_code=131026)]
            )
        ),
    )
    await dispatcher.dispatch_once()
    with sync_engine.connect() as conn:
        row = conn.execute(
            text("SELECT status FROM tenant_tienda.messages WHERE wamid = 'wamid.FAST'")
        ).one()
    assert row.status == "failed"


@respx.mock
async def test_a_shop_with_its_own_token_uses_it(
    sync_engine: Engine, async_engine: AsyncEngine, settings: Settings
) -> None:
    from chatcentral.tenancy.provisioning import provision_tenant
    from tests.support.factories import spec

    provision_tenant(
        sync_engine, spec("propia", "3330003", access_token="EAAG-shop-token"), settings=settings
    )
    with sync_engine.begin() as conn:
        tenant_id = conn.execute(text("SELECT id FROM central.tenants")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO central.outbox (tenant_id, kind, recipient, payload) "
                "VALUES (:t, 'message', '525512345678', :p)"
            ),
            {"t": tenant_id, "p": json.dumps({"messaging_product": "whatsapp", "to": "+1"})},
        )
    route = respx.post(f"{GRAPH}/3330003/messages").mock(return_value=accepted("wamid.TOK"))
    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    assert await Dispatcher(async_engine, graph, settings).dispatch_once() == 1
    await graph.aclose()
    assert route.calls[0].request.headers["Authorization"] == "Bearer EAAG-shop-token"


@respx.mock
async def test_the_running_app_dispatches_when_notified(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    from chatcentral.app import create_app

    route = respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.LIVE"))
    app = create_app(settings, engine=async_engine, dispatcher=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            # Let the dispatcher settle into its idle wait, so only NOTIFY can wake it soon.
            await asyncio.sleep(0.3)
            await post(client, cloud.message_from("1110001", "525512345678", "hola"))
            for _ in range(100):
                if route.call_count >= 2:
                    break
                await asyncio.sleep(0.05)
    assert route.call_count == 2  # the reply, then its mark-read (no outbox row of its own)
    assert [r.status for r in outbox_rows(sync_engine)] == ["sent"]


async def test_a_status_naming_an_inbound_message_changes_nothing(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "525512345678", "hola", id="wamid.MINE"))
    await post(
        client,
        cloud.envelope(cloud.change("1110001", statuses=[cloud.status("wamid.MINE", "failed")])),
    )
    with sync_engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM tenant_tienda.messages WHERE wamid = 'wamid.MINE'")
        ).scalar_one()
    assert status == "received"


async def test_old_sent_calls_are_purged_and_pending_ones_kept(
    shops: dict[str, ProvisionedShop], dispatcher: Dispatcher, sync_engine: Engine
) -> None:
    with sync_engine.begin() as conn:
        for status, age in (
            ("sent", 30),
            ("cancelled", 8),
            ("sent", 1),
            ("pending", 30),
            ("failed", 30),
        ):
            conn.execute(
                text(
                    "INSERT INTO central.outbox (tenant_id, kind, recipient, payload, status, "
                    "created_at) VALUES (:t, 'message', '52', '{}', :s, "
                    "now() - make_interval(days => :age))"
                ),
                {"t": shops["grocery"].id, "s": status, "age": age},
            )
    assert await dispatcher.purge() == 2
    kept = sorted(r.status for r in outbox_rows(sync_engine))
    assert kept == ["failed", "pending", "sent"]


@respx.mock
async def test_under_random_failures_every_reply_arrives_once_and_in_order(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    import random

    client, _ = app_client
    dice = random.Random(20261122)
    delivered: dict[str, list[str]] = {}

    def flaky(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        roll = dice.random()
        if roll < 0.15:
            return graph_error(500, 131000)
        if roll < 0.25:
            return graph_error(429, 130429)
        if roll < 0.32:
            return graph_error(400, 131056, "pair rate limit hit")
        if roll < 0.36:
            raise httpx.ReadTimeout("slow")
        key = body.get("to") or body.get("message_id", "")
        delivered.setdefault(str(key), []).append(json.dumps(body, sort_keys=True))
        return accepted(f"wamid.R{sum(map(len, delivered.values()))}")

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=flaky)
    customers = [f"52551777{n:04d}" for n in range(8)]
    for turn in range(3):
        for wa_id in customers:
            await post(
                client,
                cloud.message_from(
                    "1110001", wa_id, ("hola", "1", "menu")[turn], ts=1_760_000_000 + turn
                ),
            )
    for _ in range(200):
        await dispatcher.dispatch_once()
        make_due(sync_engine)
        if all(r.status != "pending" for r in outbox_rows(sync_engine)):
            break
    rows = outbox_rows(sync_engine)
    assert {r.status for r in rows} == {"sent"}  # nothing lost, nothing given up
    with sync_engine.connect() as conn:
        queued = conn.execute(
            text("SELECT recipient, payload FROM central.outbox WHERE kind = 'message' ORDER BY id")
        ).all()
    for wa_id in customers:
        expected = [json.dumps(p, sort_keys=True) for r, p in queued if r == wa_id]
        assert delivered["+" + wa_id] == expected  # each reply once, in the order queued
