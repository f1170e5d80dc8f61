"""Outgoing webhooks (Premium): order.created and order.status_changed POSTed to the
shop's endpoints as signed JSON, through the outbox (retried, in order), with the
endpoint's last outcome kept; refused for shops whose plan lacks them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.cli import main
from chatcentral.config import Settings, get_settings
from chatcentral.db.engine import TenantBinder
from chatcentral.orders.status import change_status
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.outgoing import endpoints
from chatcentral.outgoing.endpoints import EndpointRefused, checked_url
from chatcentral.tenancy.directory import load_shops
from tests.conftest import ProvisionedShop
from tests.db.test_conversation import grocery_cart
from tests.db.test_dispatcher import GRAPH, Client, accepted, make_due
from tests.support.conversation import Customer
from tests.support.plans import on_plan

HOOK = "https://pos.example.com/hooks/chatcentral"


async def add_endpoint(async_engine: AsyncEngine, settings: Settings) -> str:
    async with async_engine.begin() as conn:
        tenant = await TenantBinder.bind(conn, "tenant_tienda")
        made = await endpoints.create(tenant, settings, HOOK)
    return made.secret


def verified(request: httpx.Request, secret: str) -> dict[str, Any]:
    expected = "sha256=" + hmac.new(secret.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Chatcentral-Signature"] == expected
    body: dict[str, Any] = json.loads(request.content)
    return body


@respx.mock
async def test_orders_reach_the_shops_endpoint_signed_retried_and_in_order(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: Dispatcher,
    async_engine: AsyncEngine,
    sync_engine: Engine,
    settings: Settings,
) -> None:
    on_plan(sync_engine, "premium", "tienda")
    secret = await add_endpoint(async_engine, settings)
    respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.OUT"))
    hook = respx.post(HOOK).mock(
        side_effect=[httpx.Response(500), httpx.Response(204), httpx.Response(200)]
    )
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await grocery_cart(ana)
    with sync_engine.connect() as conn:
        pending = conn.execute(text("SELECT count(*) FROM central.outbox WHERE kind = 'webhook'"))
        assert pending.scalar_one() == 0  # nothing until an order exists
    order_id = await place_order(ana, sync_engine)
    [shop] = [s for s in await load_shops(async_engine) if s.slug == "tienda"]
    async with async_engine.begin() as conn:
        tenant = await TenantBinder.bind(conn, shop.schema)
        await change_status(tenant, shop, order_id, "confirmado", actor="test")
    for _ in range(4):  # the 500 is retried; the status change waits behind it
        await dispatcher.dispatch_once()
        make_due(sync_engine)
    bodies = [verified(call.request, secret) for call in hook.calls]
    assert [b["event"] for b in bodies] == [
        "order.created",
        "order.created",
        "order.status_changed",
    ]
    assert bodies[0] == bodies[1]  # the retry is the same event (same id) for deduplication
    assert bodies[0]["data"]["order_id"] == order_id and bodies[0]["shop"] == "tienda"
    assert bodies[2]["data"] | {"by": "test"} == {
        "order_id": order_id, "from": "pendiente", "to": "confirmado", "by": "test", "note": None
    }  # fmt: skip
    with sync_engine.connect() as conn:
        last = conn.execute(
            text("SELECT last_status, last_code FROM tenant_tienda.webhook_endpoints")
        ).one()
    assert tuple(last) == ("delivered", 200)


async def place_order(ana: Customer, engine: Engine) -> int:
    """From the cart: delivered to a pin, cash, a note, confirmed."""
    await ana.taps(1)  # Finalizar pedido
    await ana.taps(1)  # Entrega a domicilio
    await ana.shares_location(19.4326, -99.1332, "Casa", "Av. Reforma 222, Juárez, CP 06600")
    await ana.taps(1)  # Efectivo
    await ana.says("300")
    await ana.says("Tocar el timbre")
    await ana.taps(1)  # Confirmar
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM tenant_tienda.orders")).scalar_one())


def test_endpoint_urls_must_be_https() -> None:
    assert checked_url(HOOK) == HOOK
    assert checked_url("http://127.0.0.1:9000/x") == "http://127.0.0.1:9000/x"
    for bad in ("http://pos.example.com/x", "ftp://x", "https://", "nonsense"):
        with pytest.raises(EndpointRefused):
            checked_url(bad)


def test_the_cli_adds_lists_and_removes_endpoints_for_premium_shops_only(
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    assert main(["tenant", "webhook", "add", "tienda", HOOK]) == 1
    assert "Premium" in capsys.readouterr().err
    on_plan(sync_engine, "premium", "tienda")
    assert main(["tenant", "webhook", "add", "tienda", "http://pos.example.com/x"]) == 1
    assert "https://" in capsys.readouterr().err
    assert main(["tenant", "webhook", "add", "tienda", HOOK]) == 2  # the secret needs the key
    assert "CHATCENTRAL_TOKEN_KEY" in capsys.readouterr().err
    assert settings.chatcentral_token_key is not None
    monkeypatch.setenv("CHATCENTRAL_TOKEN_KEY", settings.chatcentral_token_key.get_secret_value())
    get_settings.cache_clear()
    assert main(["tenant", "webhook", "add", "tienda", HOOK]) == 0
    out = capsys.readouterr().out
    assert "whsec_" in out and HOOK in out
    assert main(["tenant", "webhook", "list", "tienda"]) == 0
    assert "never delivered" in capsys.readouterr().out
    assert main(["tenant", "webhook", "remove", "tienda", "1"]) == 0
    assert main(["tenant", "webhook", "remove", "tienda", "1"]) == 1
    with sync_engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action FROM central.audit_log WHERE action LIKE 'webhook.%' ORDER BY id")
        ).scalars()
        assert list(actions) == ["webhook.add", "webhook.remove"]
