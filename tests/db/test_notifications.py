"""News of a new order for every admin of the shop, end to end: a customer confirms through
the signed POST /webhook of the real app, real PostgreSQL; the dispatcher is driven by the
test and the Graph API is mocked with respx."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import respx
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp import outbound
from tests.conftest import ProvisionedShop
from tests.support import cloud
from tests.support.conversation import Customer

GRAPH = "https://graph.facebook.com/v25.0"
Client = tuple[httpx.AsyncClient, Starlette]
INSIDE = "525587654321"  # wrote to the shop's number an hour ago: window open
OUTSIDE = "525511112222"  # wrote two days ago: window closed
CUSTOMER = "525512345678"


@pytest.fixture
def two_admins(shops: dict[str, ProvisionedShop], sync_engine: Engine) -> ProvisionedShop:
    """The grocery shop with two admins (any spelling of their numbers), one of whom wrote
    to the shop an hour ago and one two days ago."""
    grocery = shops["grocery"]
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.tenants SET admin_phones = :phones WHERE id = :id"),
            {"phones": ["+525587654321", "+525511112222"], "id": grocery.id},
        )
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.staff (wa_id, last_inbound_at) VALUES "
                "(:inside, now() - interval '1 hour'), (:outside, now() - interval '2 days')"
            ),
            {"inside": INSIDE, "outside": OUTSIDE},
        )
    return grocery


class Recording:
    """The app's client, remembering each webhook body posted (to deliver one again)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.posted: list[tuple[bytes, dict[str, str]]] = []

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        self.posted.append((content, headers))
        return await self.client.post(url, content=content, headers=headers)


async def confirmed_delivery_order(ana: Customer) -> None:
    """Three products delivered to a WhatsApp pin, cash with change, a note; confirmed."""
    await ana.says("hola")
    await ana.says("1")
    for category, product, quantity in (
        ("Frutas y verduras", "Aguacate Hass", "1.5"),
        ("Lácteos y huevo", "Huevo blanco 12 piezas", "2"),
        ("Abarrotes", "Arroz súper extra 1 kg", "1"),
    ):
        titles = ana.option_titles()
        if "Agregar más productos" in titles:
            await ana.taps(titles.index("Agregar más productos") + 1)
            titles = ana.option_titles()
        await ana.taps(titles.index(category) + 1)
        await ana.taps(ana.option_titles().index(product) + 1)
        await ana.taps(1)  # Agregar al pedido
        await ana.says(quantity)
    await ana.taps(1)  # Finalizar pedido
    await ana.taps(1)  # Entrega a domicilio
    await ana.shares_location(19.4326, -99.1332, "Casa", "Av. Reforma 222, Juárez, CP 06600")
    await ana.taps(1)  # Efectivo
    await ana.says("300")
    await ana.says("Tocar el timbre dos veces")
    await ana.taps(1)  # Confirmar


async def confirmed_pickup_order(ana: Customer) -> None:
    await ana.says("hola")
    await ana.says("catalogo")
    await ana.taps(ana.option_titles().index("Limpieza") + 1)
    await ana.taps(ana.option_titles().index("Detergente en polvo 1 kg") + 1)
    await ana.taps(1)
    await ana.says("3")
    await ana.taps(1)  # Finalizar
    await ana.taps(2)  # Recoger en tienda
    await ana.taps(3)  # Tarjeta al entregar
    await ana.taps(1)  # Sin notas
    await ana.taps(1)  # Confirmar


def rows(engine: Engine, sql: str, **params: object) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def notification_rows(engine: Engine) -> list[Any]:
    return rows(
        engine,
        "SELECT id, recipient, payload, fallback, status, attempts, error_code, message_id "
        "FROM central.outbox WHERE kind = 'notification' ORDER BY recipient",
    )


def order_id(engine: Engine) -> int:
    [(number,)] = rows(engine, "SELECT id FROM tenant_tienda.orders")
    return int(number)


def button_ids(order: int) -> list[str]:
    return [f"adm:order:{order}:{status}" for status in ("confirmado", "en_camino", "cancelado")]


def template_payloads(message: dict[str, Any]) -> list[str]:
    return [
        component["parameters"][0]["payload"]
        for component in message["template"]["components"]
        if component["type"] == "button"
    ]


def accept_all(route_calls: list[dict[str, Any]]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        route_calls.append(body)
        if body.get("status") == "read":
            return httpx.Response(200, json={"success": True})
        return httpx.Response(200, json={"messages": [{"id": f"wamid.OUT{len(route_calls)}"}]})

    return answer


async def drain(dispatcher: Dispatcher) -> None:
    for _ in range(50):
        if await dispatcher.dispatch_once() == 0:
            return
    raise AssertionError("the outbox never emptied")


def to(calls: list[dict[str, Any]], wa_id: str) -> list[dict[str, Any]]:
    return [call for call in calls if call.get("to") == "+" + wa_id]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@respx.mock
async def test_a_confirmed_order_tells_each_admin_once_in_the_form_their_window_allows(
    app_client: Client, two_admins: ProvisionedShop, sync_engine: Engine, dispatcher: Dispatcher
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, two_admins.phone_number_id)
    await confirmed_delivery_order(ana)
    order = order_id(sync_engine)
    assert f"#{order}" in ana.text_of_last()  # the customer's side is unchanged

    outside, inside = notification_rows(sync_engine)
    assert (inside.recipient, outside.recipient) == (INSIDE, OUTSIDE)
    # Inside the window: the order in full, with its three buttons, and the template kept
    # for a 131047.
    message = inside.payload
    assert message["to"] == "+" + INSIDE and message["type"] == "interactive"
    body = message["interactive"]["body"]["text"]
    for expected in (
        f"*Nuevo pedido #{order}*",
        "Ana López · +52 55 1234 5678",
        f"https://wa.me/{CUSTOMER}",
        "• 1.5 kg Aguacate Hass — $118.50",
        "• 2 paquetes Huevo blanco 12 piezas — $84.00",
        "• 1 pieza Arroz súper extra 1 kg — $34.00",
        "• Envío — $25.00",
        "Total: *$261.50*",
        "📍 Entregar en: Casa, Av. Reforma 222, Juárez, CP 06600",
        "https://www.google.com/maps/search/?api=1&query=19.432600,-99.133200",
        "Pago: Efectivo, paga con $300.00, lleva $38.50 de cambio",
        "Notas: Tocar el timbre dos veces",
    ):
        assert expected in body, (expected, body)
    buttons = message["interactive"]["action"]["buttons"]
    assert [b["reply"]["id"] for b in buttons] == button_ids(order)
    assert [b["reply"]["title"] for b in buttons] == ["Confirmar", "En camino", "Cancelar"]
    assert inside.fallback["type"] == "template" and inside.fallback["to"] == "+" + INSIDE
    # Outside it: the approved template, with the same button payloads, and no fallback.
    template = outside.payload
    assert outside.fallback is None
    assert template["to"] == "+" + OUTSIDE and template["type"] == "template"
    assert template["template"]["name"] == "nuevo_pedido"
    assert template["template"]["language"] == {"code": "es_MX"}
    params = [p["text"] for p in template["template"]["components"][0]["parameters"]]
    assert params[0] == str(order) and params[3] == "$261.50"
    assert "Ana López" in params[1] and f"wa.me/{CUSTOMER}" in params[1]
    assert "Aguacate Hass" in params[2] and "Tocar el timbre" in params[6]
    assert template_payloads(template) == button_ids(order)
    for payload in (inside.payload, inside.fallback, outside.payload):
        outbound.validate(payload)

    calls: list[dict[str, Any]] = []
    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=accept_all(calls))
    await drain(dispatcher)

    assert [c["type"] for c in to(calls, INSIDE)] == ["interactive"]
    assert [c["type"] for c in to(calls, OUTSIDE)] == ["template"]
    assert [r.status for r in notification_rows(sync_engine)] == ["sent", "sent"]
    [(kind, payload, delivered)] = rows(
        sync_engine,
        "SELECT kind, payload, delivered_at IS NOT NULL FROM tenant_tienda.notifications",
    )
    assert kind == "order.created" and delivered and payload["sent"] == payload["admins"] == 2
    # Each send is an outbound message of the shop, with its wamid for status webhooks.
    sent = rows(
        sync_engine,
        "SELECT type, status, wamid IS NOT NULL FROM tenant_tienda.messages "
        "WHERE direction = 'out' AND customer_id IS NULL ORDER BY type",
    )
    assert [tuple(r) for r in sent] == [
        ("interactive", "accepted", True),
        ("template", "accepted", True),
    ]

    # The customer keeps talking: nobody hears of the order again.
    await ana.says("estado")
    await drain(dispatcher)
    assert len(to(calls, INSIDE)) == len(to(calls, OUTSIDE)) == 1


@respx.mock
async def test_a_redelivered_confirmation_tells_nobody_twice(
    app_client: Client, two_admins: ProvisionedShop, sync_engine: Engine
) -> None:
    client, _ = app_client
    recording = Recording(client)
    ana = Customer(recording, sync_engine, two_admins.phone_number_id)  # type: ignore[arg-type]
    await confirmed_pickup_order(ana)
    assert len(notification_rows(sync_engine)) == 2
    confirming, headers = recording.posted[-1]

    for _ in range(2):  # Meta retries the confirming webhook
        response = await client.post("/webhook", content=confirming, headers=headers)
        assert response.status_code == 200

    assert len(rows(sync_engine, "SELECT id FROM tenant_tienda.orders")) == 1
    assert len(notification_rows(sync_engine)) == 2
    assert len(rows(sync_engine, "SELECT id FROM tenant_tienda.notifications")) == 1


@respx.mock
async def test_131047_sends_the_template_at_once_and_the_row_ends_sent(
    app_client: Client, two_admins: ProvisionedShop, sync_engine: Engine, dispatcher: Dispatcher
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, two_admins.phone_number_id)
    await confirmed_pickup_order(ana)
    order = order_id(sync_engine)
    calls: list[dict[str, Any]] = []
    accept = accept_all(calls)

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("to") == "+" + INSIDE and body.get("type") == "interactive":
            calls.append(body)
            # Meta's clock says the window closed after all.
            return httpx.Response(
                400,
                json={
                    "error": {
                        "message": "(#131047) Re-engagement message",
                        "type": "OAuthException",
                        "code": 131047,
                    }
                },
            )
        return accept(request)

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    fallbacks = metric("chatcentral_outbox_template_fallbacks_total", kind="notification")

    await dispatcher.dispatch_once()  # the interactive one is refused
    [refused] = [r for r in notification_rows(sync_engine) if r.recipient == INSIDE]
    assert (refused.status, refused.attempts, refused.error_code) == ("pending", 0, 131047)
    assert refused.payload["type"] == "template" and refused.fallback is None
    await drain(dispatcher)  # due at once: no waiting for a backoff

    interactive, template = to(calls, INSIDE)
    assert interactive["type"] == "interactive" and template["type"] == "template"
    assert template_payloads(template) == button_ids(order)
    [sent] = [r for r in notification_rows(sync_engine) if r.recipient == INSIDE]
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert metric("chatcentral_outbox_template_fallbacks_total", kind="notification") == (
        fallbacks + 1
    )
    [(kind, status)] = rows(
        sync_engine,
        "SELECT type, status FROM tenant_tienda.messages WHERE id = :id",
        id=sent.message_id,
    )
    assert (kind, status) == ("template", "accepted")
    [(delivered,)] = rows(
        sync_engine, "SELECT delivered_at IS NOT NULL FROM tenant_tienda.notifications"
    )
    assert delivered
    # Nothing is held up: no audit alert, no undelivered count, the customer answered.
    assert rows(sync_engine, "SELECT undelivered FROM tenant_tienda.staff ORDER BY wa_id") == [
        (0,),
        (0,),
    ]
    assert to(calls, CUSTOMER)


@respx.mock
async def test_news_that_fails_for_good_is_counted_for_that_admin(
    app_client: Client,
    two_admins: ProvisionedShop,
    sync_engine: Engine,
    dispatcher: Dispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = app_client
    with sync_engine.begin() as conn:  # an admin who never wrote: no staff row at all
        conn.execute(
            text("UPDATE central.tenants SET admin_phones = admin_phones || :p WHERE id = :id"),
            {"p": ["+525533334444"], "id": two_admins.id},
        )
    ana = Customer(client, sync_engine, two_admins.phone_number_id)
    await confirmed_pickup_order(ana)
    calls: list[dict[str, Any]] = []
    accept = accept_all(calls)

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("type") == "template":
            calls.append(body)
            # The template is not approved in the shop's account yet.
            return httpx.Response(
                404,
                json={
                    "error": {
                        "message": "(#132001) Template name does not exist in the translation",
                        "type": "OAuthException",
                        "code": 132001,
                    }
                },
            )
        return accept(request)

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    failed = metric("chatcentral_notifications_failed_total", code="132001")
    with caplog.at_level(logging.ERROR, logger="chatcentral.notifications.delivery"):
        await drain(dispatcher)

    statuses = {r.recipient: (r.status, r.error_code) for r in notification_rows(sync_engine)}
    assert statuses == {
        INSIDE: ("sent", None),
        OUTSIDE: ("failed", 132001),
        "525533334444": ("failed", 132001),
    }
    staff = rows(sync_engine, "SELECT wa_id, undelivered FROM tenant_tienda.staff ORDER BY wa_id")
    assert [tuple(r) for r in staff] == [(OUTSIDE, 1), ("525533334444", 1), (INSIDE, 0)]
    assert metric("chatcentral_notifications_failed_total", code="132001") == failed + 2
    assert "news for admin +525511112222" in caplog.text and "132001" in caplog.text
    [(delivered, payload)] = rows(
        sync_engine, "SELECT delivered_at IS NOT NULL, payload FROM tenant_tienda.notifications"
    )
    assert not delivered and (payload["sent"], payload["admins"]) == (1, 3)
    # The alert an operator sees, like any send that failed for good.
    alerts = rows(
        sync_engine,
        "SELECT details->>'kind' FROM central.audit_log WHERE action = 'outbox.failed'",
    )
    assert [a[0] for a in alerts] == ["notification", "notification"]


@respx.mock
async def test_a_failure_reported_later_by_a_status_webhook_is_followed_up_once(
    app_client: Client, two_admins: ProvisionedShop, sync_engine: Engine, dispatcher: Dispatcher
) -> None:
    """Meta may accept a send and report 131047 (or another failure) in a status webhook:
    the interactive news goes again as its template, the template that failed counts as
    undelivered for its admin, and a redelivered status changes nothing more."""
    client, _ = app_client
    ana = Customer(client, sync_engine, two_admins.phone_number_id)
    await confirmed_pickup_order(ana)
    order = order_id(sync_engine)
    calls: list[dict[str, Any]] = []
    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=accept_all(calls))
    await drain(dispatcher)
    wamids = dict(
        rows(
            sync_engine,
            "SELECT o.recipient, m.wamid FROM central.outbox o "
            "JOIN tenant_tienda.messages m ON m.id = o.message_id WHERE o.kind = 'notification'",
        )
    )
    statuses = cloud.envelope(
        cloud.change(
            "1110001",
            statuses=[
                cloud.status(wamids[INSIDE], "failed", recipient=INSIDE, error_code=131047),
                cloud.status(wamids[OUTSIDE], "failed", recipient=OUTSIDE, error_code=131026),
            ],
        )
    )
    fallbacks = metric("chatcentral_outbox_template_fallbacks_total", kind="notification")
    for _ in range(2):  # Meta delivers webhooks at least once
        raw, headers = cloud.signed(statuses)
        assert (await client.post("/webhook", content=raw, headers=headers)).status_code == 200

    pending = rows(
        sync_engine,
        "SELECT recipient, payload, message_id FROM central.outbox "
        "WHERE kind = 'notification' AND status = 'pending'",
    )
    assert [(r.recipient, r.payload["type"]) for r in pending] == [(INSIDE, "template")]
    assert template_payloads(pending[0].payload) == button_ids(order)
    assert metric("chatcentral_outbox_template_fallbacks_total", kind="notification") == (
        fallbacks + 1
    )
    staff = rows(sync_engine, "SELECT wa_id, undelivered FROM tenant_tienda.staff ORDER BY wa_id")
    assert [tuple(r) for r in staff] == [(OUTSIDE, 1), (INSIDE, 0)]

    await drain(dispatcher)
    assert [c["type"] for c in to(calls, INSIDE)] == ["interactive", "template"]
    assert [c["type"] for c in to(calls, OUTSIDE)] == ["template"]
    [(kind, status, wamid)] = rows(
        sync_engine,
        "SELECT type, status, wamid FROM tenant_tienda.messages WHERE id = :id",
        id=pending[0].message_id,
    )
    assert (kind, status) == ("template", "accepted") and wamid != wamids[INSIDE]
