"""Mark-read rides on the last reply: no outbox row of its own, sent right after that
reply is accepted, never after a reply that failed for good."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.config import Settings
from chatcentral.outbox.dispatcher import Dispatcher
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, Client, accepted, graph_error, post
from tests.support import cloud


def queued(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT kind, status, mark_read_wamid FROM central.outbox ORDER BY id")
            ).all()
        )


def kinds(route: respx.Route) -> list[str]:
    bodies = [json.loads(call.request.content) for call in route.calls]
    return ["read:" + b["message_id"] if b.get("status") == "read" else "reply" for b in bodies]


async def test_a_steady_state_message_queues_its_replies_and_no_mark_read_row(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    await post(
        client,
        cloud.message_from("1110001", "525512345678", "hola", id="wamid.A", ts=1_760_000_000),
    )
    await post(
        client, cloud.message_from("1110001", "525512345678", "1", id="wamid.B", ts=1_760_000_001)
    )
    rows = queued(sync_engine)
    assert rows and all(row.kind == "message" for row in rows)  # no mark_read row
    # Only the last reply to each message carries its mark-read.
    carriers = [row.mark_read_wamid for row in rows if row.mark_read_wamid]
    assert carriers == ["wamid.A", "wamid.B"]
    assert rows[-1].mark_read_wamid == "wamid.B"


async def test_mark_read_off_queues_none(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    from chatcentral.app import create_app

    app = create_app(
        settings.model_copy(update={"chatcentral_mark_read": False}),
        engine=async_engine,
        dispatcher=False,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await post(client, cloud.message_from("1110001", "525512345678", "hola"))
    rows = queued(sync_engine)
    assert rows and all(row.mark_read_wamid is None for row in rows)


@respx.mock
async def test_the_mark_read_follows_its_reply(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    route = respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.OUT"))
    await post(client, cloud.message_from("1110001", "525512345678", "hola", id="wamid.IN"))
    assert await dispatcher.dispatch_once() == 1
    assert kinds(route) == ["reply", "read:wamid.IN"]
    assert [row.status for row in queued(sync_engine)] == ["sent"]


@respx.mock
async def test_the_reply_is_recorded_before_its_mark_read_is_sent(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    # A crash between the two calls must lose the mark-read, never send the reply again.
    seen_at_mark_read: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("status") == "read":
            seen_at_mark_read.append([row.status for row in queued(sync_engine)])
        return accepted("wamid.OUT")

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    await post(app_client[0], cloud.message_from("1110001", "525512345678", "hola"))
    assert await dispatcher.dispatch_once() == 1
    assert seen_at_mark_read == [["sent"]]


@respx.mock
async def test_a_lost_mark_read_is_given_up_and_the_reply_stays_sent(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    sync_engine: Engine,
) -> None:
    client, _ = app_client

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("status") == "read":
            return graph_error(400, 100, "Invalid parameter")
        return accepted("wamid.OUT")

    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    await post(client, cloud.message_from("1110001", "525512345678", "hola", id="wamid.IN"))
    assert await dispatcher.dispatch_once() == 1
    assert kinds(route) == ["reply", "read:wamid.IN"]  # permanent: tried once, not again
    assert [row.status for row in queued(sync_engine)] == ["sent"]
    assert await dispatcher.dispatch_once() == 0


@respx.mock
async def test_no_mark_read_when_an_earlier_reply_to_the_message_failed_for_good(
    shops: dict[str, ProvisionedShop], dispatcher: Dispatcher, sync_engine: Engine
) -> None:
    # Two replies to one message: the first fails for good, the second (carrying the
    # mark-read) is still sent, but the customer's message is not marked read.
    with sync_engine.begin() as conn:
        for wamid in (None, "wamid.IN"):
            conn.execute(
                text(
                    "INSERT INTO central.outbox (tenant_id, kind, recipient, payload, "
                    "mark_read_wamid) VALUES (:t, 'message', '525512345678', "
                    "CAST(:p AS jsonb), :w)"
                ),
                {
                    "t": shops["grocery"].id,
                    "w": wamid,
                    "p": json.dumps(
                        {
                            "messaging_product": "whatsapp",
                            "to": "+525512345678",
                            "type": "text",
                            "text": {"body": "bad" if wamid is None else "good"},
                        }
                    ),
                },
            )

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("text", {}).get("body") == "bad":
            return graph_error(400, 131009, "Parameter value is not valid")
        return accepted("wamid.OUT")

    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    assert await dispatcher.dispatch_once() == 1
    assert await dispatcher.dispatch_once() == 1
    assert kinds(route) == ["reply", "reply"]
    assert [(row.status, row.mark_read_wamid) for row in queued(sync_engine)] == [
        ("failed", None),
        ("sent", None),
    ]
