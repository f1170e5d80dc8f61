"""A human handoff that reaches a human, through the signed POST /webhook and a real
PostgreSQL: the customer's messages relayed to the admins (media as media, the template
outside an admin's 24-hour window), the admins' answers by reply or by number, the first
admin taking it, closing it, refusals, and nobody answering in time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.config import Settings
from chatcentral.db.engine import TenantBinder
from chatcentral.handoffs import relay
from chatcentral.handoffs.timeouts import time_out_waits
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.simulator.render import render
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer

Client = tuple[httpx.AsyncClient, Starlette]
MARY = "5215587654321"  # the test shops' admin, in WhatsApp's old Mexican form
MARY_ID = "525587654321"  # ... and as the outbox addresses her
PEPE = "5215511112222"
PEPE_ID = "525511112222"
PHOTO = b"\xff\xd8\xff\xe0 a photo of tortillas \x00\x01\x02"


class Person(Customer):
    """A customer or an admin who can also reply to a message and send a photo."""

    async def replies_to(self, wamid: str, body: str) -> list[dict[str, Any]]:
        return await self._send(
            {
                "type": "text",
                "text": {"body": body},
                "context": {"from": "15550000000", "id": wamid},
            }
        )

    def answer(self) -> str:
        """The last message this person got (what the bot said to what they just did)."""
        return shown(self.last[-1]) if self.last else ""

    async def sends_photo_with(self, media_id: str, caption: str) -> list[dict[str, Any]]:
        image = {"id": media_id, "mime_type": "image/jpeg", "sha256": "AAAA", "caption": caption}
        return await self._send({"type": "image", "image": image})


def rows(engine: Engine, sql: str, **params: object) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params).all()]


def queued(engine: Engine, recipient: str, *, after: int = 0) -> list[tuple[Any, ...]]:
    """(id, kind, payload, fallback, message_id) of every call queued for `recipient`."""
    return rows(
        engine,
        "SELECT id, kind, payload, fallback, message_id FROM central.outbox "
        "WHERE recipient = :r AND kind <> 'mark_read' AND id > :after ORDER BY id",
        r=recipient,
        after=after,
    )


def shown(payload: dict[str, Any]) -> str:
    return "\n".join(render(payload).lines)


def last_id(engine: Engine) -> int:
    return int(rows(engine, "SELECT coalesce(max(id), 0) FROM central.outbox")[0][0])


def two_admins(engine: Engine, app: Starlette) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET admin_phones = "
                "ARRAY['+525587654321', '+525511112222'] WHERE slug = 'tienda'"
            )
        )
    app.state.directory.invalidate()


@pytest.fixture
async def dispatcher(
    async_engine: AsyncEngine, settings: Settings, fake_cloud: FakeCloud
) -> AsyncIterator[Dispatcher]:
    graph = GraphClient(fake_cloud.base_url, settings.whatsapp_api_version)
    yield Dispatcher(async_engine, graph, settings)
    await graph.aclose()


async def drain(dispatcher: Dispatcher) -> None:
    """Send everything queued (a template swapped in for a closed window included)."""
    for _ in range(10):
        if not await dispatcher.dispatch_once():
            return


async def test_a_handoff_round_trip_by_reply_and_by_number_with_media_then_closed(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    dispatcher: Dispatcher,
    fake_cloud: FakeCloud,
) -> None:
    client, _ = app_client
    mary = Person(client, sync_engine, "1110001", wa_id=MARY, name="Mary")
    ana = Person(client, sync_engine, "1110001")
    await mary.says("hola")  # her 24-hour window is open: free-form messages reach her
    await ana.says("hola")
    await ana.says("asesor")
    assert "le aviso a una persona" in ana.text_of_last()

    [(_, kind, opened, _, _)] = queued(sync_engine, MARY_ID, after=_menu_end(sync_engine))
    assert kind == "message"
    assert "🙋 *Ana López* quiere hablar con una persona · #1" in shown(opened)
    assert "https://wa.me/5215512345678" not in shown(opened)  # canonical digits only
    assert "https://wa.me/525512345678" in shown(opened)
    assert render(opened).options[0].reply_id == "adm:handoff:1:close"

    mark = last_id(sync_engine)
    assert await ana.says("¿Tienen tortillas de harina?") == []  # the bot stays quiet
    fake_cloud.put_media("778899", PHOTO, "image/jpeg")
    assert await ana.sends_photo_with("778899", "¿De estas?") == []
    relayed = queued(sync_engine, MARY_ID, after=mark)
    assert [
        (kind, shown(payload) if kind == "message" else None) for _, kind, payload, *_ in relayed
    ] == [
        ("message", "💬 *Ana López* · #1\n¿Tienen tortillas de harina?"),
        ("relay_media", None),
    ]
    photo = relayed[1][2]
    assert photo["image"] == {"id": "778899", "caption": "💬 *Ana López* · #1\n¿De estas?"}
    # Every relayed message is stored, both ways, tied to the handoff.
    assert rows(
        sync_engine,
        "SELECT direction, customer_id IS NULL, type FROM tenant_tienda.messages "
        "WHERE handoff_id = 1 ORDER BY id",
    ) == [
        ("out", True, "interactive"),  # the news of the handoff
        ("in", False, "text"),
        ("out", True, "text"),
        ("in", False, "image"),
        ("out", True, "image"),
    ]

    # The dispatcher moves the photo to the shop's number and sends it as a photo.
    await drain(dispatcher)
    [upload] = fake_cloud.uploads()
    assert upload.content == PHOTO and upload.mime_type == "image/jpeg"
    assert upload.phone_number_id == "1110001"
    sent = [
        call.body
        for call in fake_cloud.calls()
        if call.delivered and call.body.get("to") == "+" + MARY_ID
    ]
    assert sent[-1]["image"] == {
        "id": upload.media_id,
        "caption": "💬 *Ana López* · #1\n¿De estas?",
    }
    [(text_wamid,)] = rows(
        sync_engine,
        "SELECT wamid FROM tenant_tienda.messages WHERE handoff_id = 1 AND direction = 'out' "
        "AND type = 'text'",
    )
    assert text_wamid is not None  # recorded by the dispatcher: a reply to it finds #1

    # Mary answers by WhatsApp's reply to the relayed text: she takes the handoff.
    await mary.replies_to(text_wamid, "¡Sí! A $35 el paquete.")
    assert mary.answer().startswith("✅ Le llegó a *Ana López* (#1)")
    assert [shown(p) for _, _, p, *_ in queued(sync_engine, ana.recipient, after=mark)] == [
        "¡Sí! A $35 el paquete."
    ]
    assert rows(
        sync_engine,
        "SELECT status, claimed_by, answered_at IS NOT NULL FROM tenant_tienda.handoffs",
    ) == [("claimed", MARY_ID, True)]

    # ... and by its number: nothing more to tell her, the customer gets it.
    mark = last_id(sync_engine)
    await mary.says("#1 ¿Te aparto dos?")
    assert mary.last == []
    assert [shown(p) for _, _, p, *_ in queued(sync_engine, ana.recipient, after=mark)] == [
        "¿Te aparto dos?"
    ]
    assert rows(
        sync_engine,
        "SELECT count(*) FROM tenant_tienda.messages WHERE handoff_id = 1 "
        "AND direction = 'out' AND customer_id IS NOT NULL",
    ) == [(2,)]

    # "cerrar" in reply to a relayed message ends it; the customer is back at the menu.
    mark = last_id(sync_engine)
    await mary.replies_to(text_wamid, "cerrar")
    assert mary.answer() == (
        "✅ Cerraste la conversación #1 con *Ana López*; volvió al menú automático."
    )
    [(_, _, ended, _, _)] = queued(sync_engine, ana.recipient, after=mark)
    assert "Terminó tu conversación con *Abarrotes Doña Mary*" in shown(ended)
    assert rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs") == [("closed",)]
    assert rows(sync_engine, "SELECT state FROM tenant_tienda.customer_sessions") == [
        ("main_menu",)
    ]
    await ana.says("1")  # the only option offered: the menu
    assert ana.option_titles()[0] == "Ver catálogo"


def _menu_end(engine: Engine) -> int:
    """The id of the admin menu Mary got for her "hola" (what comes after is news)."""
    [(menu_id,)] = rows(
        engine,
        "SELECT max(id) FROM central.outbox WHERE recipient = :r AND kind = 'message' "
        "AND payload->>'type' = 'interactive' AND payload->'interactive'->>'type' = 'list'",
        r=MARY_ID,
    )
    return int(menu_id)


async def test_two_admins_the_second_is_told_who_took_it(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, app = app_client
    two_admins(sync_engine, app)
    mary = Person(client, sync_engine, "1110001", wa_id=MARY, name="Mary")
    pepe = Person(client, sync_engine, "1110001", wa_id=PEPE, name="Pepe")
    await mary.says("hola")
    await pepe.says("hola")
    ana = Person(client, sync_engine, "1110001")
    await ana.says("asesor")
    mark = last_id(sync_engine)
    await ana.says("¿Hacen envíos a Coyoacán?")
    for admin in (MARY_ID, PEPE_ID):  # both hear it while nobody has it
        [(_, _, payload, _, _)] = queued(sync_engine, admin, after=mark)
        assert shown(payload) == "💬 *Ana López* · #1\n¿Hacen envíos a Coyoacán?"

    mark = last_id(sync_engine)
    await mary.says("#1 Sí, el envío cuesta $30")
    [(_, _, told, _, _)] = queued(sync_engine, PEPE_ID, after=mark)
    assert shown(told) == (
        "👤 Mary tomó la conversación #1 con *Ana López*; sus mensajes le llegarán a Mary."
    )

    mark = last_id(sync_engine)
    await ana.says("Perfecto, gracias")
    assert queued(sync_engine, PEPE_ID, after=mark) == []  # Mary has it now
    [(_, _, payload, _, _)] = queued(sync_engine, MARY_ID, after=mark)
    assert shown(payload) == "💬 *Ana López* · #1\nPerfecto, gracias"

    # The customer leaving is news for the one who had it.
    mark = last_id(sync_engine)
    await ana.says("menú")
    [(_, _, left, _, _)] = queued(sync_engine, MARY_ID, after=mark)
    assert shown(left) == (
        "↩️ *Ana López* volvió al menú automático; la conversación #1 quedó cerrada."
    )
    assert queued(sync_engine, PEPE_ID, after=mark) == []


async def test_a_closed_unknown_or_other_shops_handoff_is_refused(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    # A customer of the water shop waits in its handoff #1; its admin is told.
    luis = Person(client, sync_engine, "2220002", wa_id="5215599998888", name="Luis")
    water_admin = Person(client, sync_engine, "2220002", wa_id=MARY, name="Mary")
    await water_admin.says("hola")
    await luis.says("asesor")
    water_wamid = "wamid.WATER1"  # the news to its admin, as the dispatcher records it
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenant_agua.messages SET wamid = :w "
                "WHERE handoff_id = 1 AND direction = 'out'"
            ),
            {"w": water_wamid},
        )
    mary = Person(client, sync_engine, "1110001", wa_id=MARY, name="Mary")
    mark = last_id(sync_engine)
    # The grocery has no handoff #1: its admin's "#1" can never reach the water customer.
    await mary.says("#1 Hola Luis")
    assert mary.answer() == (
        "No encontré la conversación #1 en esta tienda. "
        "Escribe *conversaciones* para ver las abiertas."
    )
    assert queued(sync_engine, luis.recipient, after=mark) == []
    # Nor does replying to the water shop's relayed message lead anywhere in the grocery.
    grocery = TenantBinder(async_engine).engine_for(shops["grocery"].schema)
    async with grocery.connect() as conn:
        assert await relay.quoted_handoff(conn, water_wamid) is None
    water = TenantBinder(async_engine).engine_for(shops["water"].schema)
    async with water.connect() as conn:
        assert await relay.quoted_handoff(conn, water_wamid) == 1

    # The grocery's own #1, closed, then answered and closed again.
    ana = Person(client, sync_engine, "1110001")
    await ana.says("asesor")
    await mary.says("cerrar 1")
    assert mary.answer().startswith("✅ Cerraste la conversación #1")
    mark = last_id(sync_engine)
    await mary.says("#1 ¿Sigues ahí?")
    assert mary.answer() == (
        "La conversación #1 ya está cerrada. Si el cliente vuelve a pedir ayuda, "
        "te llegará una nueva."
    )
    await mary.taps_id("adm:handoff:1:close")
    assert "ya está cerrada" in mary.answer()
    await mary.says("#99 hola")
    assert mary.answer().startswith("No encontré la conversación #99")
    assert queued(sync_engine, ana.recipient, after=mark) == []


async def test_relay_outside_the_window_uses_the_template(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    dispatcher: Dispatcher,
    fake_cloud: FakeCloud,
) -> None:
    client, app = app_client
    two_admins(sync_engine, app)
    pepe = Person(client, sync_engine, "1110001", wa_id=PEPE, name="Pepe")
    await pepe.says("hola")  # Pepe's window is open; Mary never wrote to the shop
    ana = Person(client, sync_engine, "1110001")
    await ana.says("asesor")
    mark = last_id(sync_engine)
    await ana.says("Necesito\n\n20 kilos    de tortilla")

    [(_, kind, payload, fallback, _)] = queued(sync_engine, MARY_ID, after=mark)
    assert kind == "message" and fallback is None
    assert payload["type"] == "template"
    template = payload["template"]
    assert (template["name"], template["language"]["code"]) == ("cliente_espera", "es_MX")
    assert [p["text"] for p in template["components"][0]["parameters"]] == [
        "Ana López",
        "1",
        "Necesito · 20 kilos de tortilla",
    ]
    assert [c["parameters"][0]["payload"] for c in template["components"][1:]] == [
        "adm:handoffs",
        "adm:handoff:1:close",
    ]
    # Inside the window: free form, with the same template as the 131047 fallback.
    [(outbox_id, _, payload, fallback, message_id)] = queued(sync_engine, PEPE_ID, after=mark)
    assert payload["type"] == "text" and fallback["type"] == "template"
    assert fallback["to"] == "+" + PEPE_ID

    # Pepe's window closes before it leaves: Meta refuses it, the template goes instead.
    await drain(dispatcher)  # what was queued before (the news of the handoff)...
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.outbox SET status = 'pending', due_at = now() WHERE id = :id"),
            {"id": outbox_id},
        )
    fake_cloud.fail_next(1, status=400, code=131047)
    await drain(dispatcher)
    last = [c for c in fake_cloud.calls() if c.body.get("to") == "+" + PEPE_ID][-2:]
    assert [c.failed_with for c in last] == [131047, None]
    assert last[1].body["type"] == "template"
    [(status, kind)] = rows(
        sync_engine, "SELECT status, type FROM tenant_tienda.messages WHERE id = :id", id=message_id
    )
    assert kind == "template" and status == "accepted"


async def test_nobody_answering_tells_the_customer_once_and_never_while_closed(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    ana = Person(client, sync_engine, "1110001")
    await ana.says("asesor")
    [(since,)] = rows(sync_engine, "SELECT waiting_since FROM tenant_tienda.handoffs")
    assert since is not None  # the wait starts when she asks

    # The shop is open around the clock in these tests: ten minutes, counted from the ask.
    mark = last_id(sync_engine)
    assert await time_out_waits(async_engine, since + timedelta(minutes=9)) == 0
    # Two processes at once: one of them tells her, once.
    at = since + timedelta(minutes=10, seconds=5)
    told = await asyncio.gather(time_out_waits(async_engine, at), time_out_waits(async_engine, at))
    assert sorted(told) == [0, 1]
    [(_, _, payload, _, _)] = queued(sync_engine, ana.recipient, after=mark)
    assert "Nadie ha podido responderte todavía" in shown(payload)
    assert [o.reply_id for o in render(payload).options] == ["nav:menu", "handoff:wait"]
    assert await time_out_waits(async_engine, since + timedelta(hours=1)) == 0  # once per wait
    await ana.says("¿Hola?")  # still the same wait
    assert await time_out_waits(async_engine, since + timedelta(hours=2)) == 0

    await ana.taps_id("handoff:wait")
    assert "seguimos esperando" in ana.text_of_last()
    await ana.taps_id("nav:menu")
    assert ana.option_titles()[0] == "Ver catálogo"
    assert rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs") == [("closed",)]


async def test_the_timeout_clock_waits_for_opening(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    ana = Person(client, sync_engine, "1110001")
    await ana.says("asesor")
    week = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    hours = json.dumps({**week, "sat": [["09:00", "14:00"]]})
    friday_1755 = datetime(2026, 11, 27, 23, 55, tzinfo=UTC)  # Mexico City, UTC-6
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET business_hours = CAST(:h AS jsonb), settings = "
                "settings || '{\"handoff_timeout_minutes\": 15}' WHERE slug = 'tienda'"
            ),
            {"h": hours},
        )
        conn.execute(
            text("UPDATE tenant_tienda.handoffs SET waiting_since = :t"), {"t": friday_1755}
        )
        # She wrote on Saturday morning too: WhatsApp lets the shop answer her.
        conn.execute(
            text("UPDATE tenant_tienda.customers SET last_inbound_at = :t"),
            {"t": friday_1755 + timedelta(hours=15)},
        )
    mark = last_id(sync_engine)
    # Friday 18:30: 35 minutes later, 5 of them open, and the shop is closed now.
    assert await time_out_waits(async_engine, friday_1755 + timedelta(minutes=35)) == 0
    saturday_0909 = datetime(2026, 11, 28, 15, 9, tzinfo=UTC)  # 5 + 9 open minutes
    assert await time_out_waits(async_engine, saturday_0909) == 0
    assert await time_out_waits(async_engine, saturday_0909 + timedelta(minutes=1)) == 1
    [(_, _, payload, _, _)] = queued(sync_engine, ana.recipient, after=mark)
    assert "Nadie ha podido responderte todavía" in shown(payload)


async def test_an_answer_starts_a_new_wait_that_may_time_out_again(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
) -> None:
    client, _ = app_client
    ana = Person(client, sync_engine, "1110001")
    mary = Person(client, sync_engine, "1110001", wa_id=MARY, name="Mary")
    await ana.says("asesor")
    [(since,)] = rows(sync_engine, "SELECT waiting_since FROM tenant_tienda.handoffs")
    assert await time_out_waits(async_engine, since + timedelta(minutes=11)) == 1
    await mary.says("#1 Ya te atiendo")
    assert rows(sync_engine, "SELECT waiting_since, timed_out_at FROM tenant_tienda.handoffs") == [
        (None, None)
    ]
    assert await time_out_waits(async_engine, since + timedelta(hours=1)) == 0  # not waiting
    await ana.says("¿Y entonces?")
    [(again,)] = rows(sync_engine, "SELECT waiting_since FROM tenant_tienda.handoffs")
    assert again is not None and again > since
    assert await time_out_waits(async_engine, again + timedelta(minutes=11)) == 1


async def test_an_admin_sees_the_open_handoffs(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    mary = Person(client, sync_engine, "1110001", wa_id=MARY, name="Mary")
    await mary.says("conversaciones")
    assert mary.answer() == "No hay conversaciones abiertas. 🎉"
    ana = Person(client, sync_engine, "1110001")
    beto = Person(client, sync_engine, "1110001", wa_id="5215533334444", name="Beto")
    await ana.says("asesor")
    await beto.says("asesor")
    await mary.says("#2 Hola Beto")
    await mary.taps_id("adm:handoffs")
    listed = mary.answer()
    assert "#1 *Ana López* — espera respuesta desde las" in listed
    assert "#2 *Beto* — abierta desde las" in listed and "(la atiende Mary)" in listed
    assert listed.index("#1") < listed.index("#2")  # the one waiting first
