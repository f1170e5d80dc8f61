"""Structured logs of a whole conversation: context on every webhook line, no secret and
no customer text anywhere, even at DEBUG with every library talking."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.api.keys import create_key
from chatcentral.app import create_app
from chatcentral.config import Settings
from chatcentral.logs import setup_logging
from tests.conftest import APP_SECRET, ProvisionedShop
from tests.db.test_conversation import grocery_cart
from tests.db.test_dispatcher import accepted
from tests.db.test_dispatcher_faults import eventually
from tests.support.conversation import Customer
from tests.support.panel import make_link_token, use_link
from tests.support.plans import on_plan

# What the customer writes, each distinctive enough that finding it means it was logged.
CHATTER = "mi perro Firulais ladra cuando llueve"
NOTE = "Tocar el timbre del portón azulado siete"
PLACE = "Casa de la abuela Remedios"
STREET = "Calle Zacatecas 4821, Roma Norte"
# Loggers that only speak while a webhook is being handled (the dispatcher and the test's
# own HTTP client speak outside any webhook).
HANDLING = (
    "chatcentral.webhook",
    "chatcentral.inbound",
    "chatcentral.orders",
    "chatcentral.notifications",
    "transitions",
)


@pytest.fixture
def debug_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Our logging set-up at DEBUG in JSON, into a buffer; the previous set-up restored."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    named = {
        name: logging.getLogger(name).level
        for name in ("sqlalchemy.engine", "sqlalchemy.pool", "httpx", "transitions", "alembic")
    }
    buffer = io.StringIO()
    debug = settings.model_copy(
        update={"chatcentral_log_level": "DEBUG", "chatcentral_log_format": "json"}
    )
    setup_logging(debug, stream=buffer)
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in named.items():
        logging.getLogger(name).setLevel(level)


def sends(graph: list[httpx.Request]) -> respx.Route:
    """Accept every Graph API send (under an active respx mock), keeping each request."""

    def answer(request: httpx.Request) -> httpx.Response:
        graph.append(request)
        return accepted(f"wamid.OUT{len(graph)}")

    return respx.post(url__regex=r"/messages$").mock(side_effect=answer)


@respx.mock
async def test_a_whole_order_logs_context_and_never_a_secret_or_what_the_customer_wrote(
    settings: Settings,
    async_engine: AsyncEngine,
    sync_engine: Engine,
    shops: dict[str, ProvisionedShop],
    debug_logs: io.StringIO,
) -> None:
    graph: list[httpx.Request] = []
    sends(graph)
    respx.route(host="127.0.0.1").pass_through()  # the panel, below
    app = create_app(settings, engine=async_engine, dispatcher=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ana = Customer(client, sync_engine, "1110001")
            await ana.says("hola")
            await ana.says(CHATTER)  # not an option: the menu again
            await grocery_cart(ana)
            await ana.taps(1)  # Finalizar pedido
            await ana.taps(1)  # Entrega a domicilio
            await ana.shares_location(19.4326, -99.1332, PLACE, STREET)
            await ana.taps(1)  # Efectivo
            await ana.says("300")
            await ana.says(NOTE)
            await ana.taps(1)  # Confirmar
            with sync_engine.connect() as conn:
                orders = conn.execute(text("SELECT count(*) FROM tenant_tienda.orders")).scalar()
            assert orders == 1

            def everything_sent() -> bool:
                with sync_engine.connect() as conn:
                    left = conn.execute(
                        text("SELECT count(*) FROM central.outbox WHERE status <> 'sent'")
                    ).scalar()
                return left == 0 and len(graph) > 0

            await eventually(everything_sent, "the dispatcher to send every reply")
            # The owner looks at the order through the admin API and the panel.
            on_plan(sync_engine, "premium")
            key = create_key(sync_engine, "tienda", "pos").secret
            listed = await client.get("/api/v1/orders", headers={"Authorization": f"Bearer {key}"})
            assert listed.status_code == 200 and listed.json()["items"], listed.text
            link = make_link_token(sync_engine, shops["grocery"].id)
            # The panel's cookies are Secure except on this machine's own address.
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1"
            ) as browser:
                assert (await use_link(browser, link)).status_code == 303
                cookie = browser.cookies.get("cc_panel")
                assert cookie and "Ana" in (await browser.get("/panel/")).text
            await asyncio.sleep(0.2)  # the dispatcher's last lines

    # The dispatcher really sent with the token (so its absence below means something).
    assert graph[0].headers["Authorization"] == "Bearer test-access-token"

    output = debug_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert any(line["level"] == "DEBUG" for line in lines)  # DEBUG really was on
    for forbidden in (
        "test-access-token",
        APP_SECRET,
        "test-verify-token",
        settings.chatcentral_token_key.get_secret_value(),  # type: ignore[union-attr]
        CHATTER,
        "Firulais",
        NOTE,
        PLACE,
        STREET,
        "Zacatecas",
        key,
        link,
        cookie,
    ):
        assert forbidden not in output, f"{forbidden!r} reached the logs"

    handled = [line for line in lines if line["logger"] == "chatcentral.webhook.processor"]
    assert len(handled) >= 10  # one per customer message at least
    # Every line written while a webhook was handled, ours and the libraries', has all three.
    handling = [line for line in lines if line["logger"].startswith(HANDLING)]
    assert len(handling) > len(handled)  # the state machine's DEBUG lines too
    for line in handling:
        assert line["request_id"] and line["shop"] == "tienda", line
        assert line["wamid"].startswith("wamid."), line
    # One request id per webhook: every message of the conversation had its own.
    assert len({line["request_id"] for line in handled}) == len({line["wamid"] for line in handled})
