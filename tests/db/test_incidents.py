"""Alerts an operator can act on: one per incident and one when it is over, however many
processes see it and however long it lasts; told on WhatsApp through the operator's shop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.config import Settings
from chatcentral.incidents.journal import Incidents
from chatcentral.incidents.watch import Watch
from chatcentral.metrics import OUTBOX_OLDEST_S
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, Client, accepted, graph_error, make_due, post
from tests.support import cloud

OPERATOR = "+525511112222"


@pytest.fixture
def alerting(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "chatcentral_operator_phone": OPERATOR,
            "chatcentral_operator_shop": "agua",
            "chatcentral_alert_send_failures": 3,
        }
    )


def journal(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, details->>'key' FROM central.audit_log "
                "WHERE action LIKE 'incident.%' ORDER BY id"
            )
        ).all()
    return [(row[0], row[1]) for row in rows]


def operator_messages(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        payloads = conn.execute(
            text("SELECT payload FROM central.outbox WHERE kind = 'alert' ORDER BY id")
        ).scalars()
        return [payload["text"]["body"] for payload in payloads]


async def test_one_alert_per_incident_across_processes_and_one_when_resolved(
    async_engine: AsyncEngine,
    alerting: Settings,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    one, two = Incidents(async_engine, alerting), Incidents(async_engine, alerting)
    opened = await asyncio.gather(
        *(p.trouble("graph:tienda", "graph", "shop tienda: 5 sends failed") for p in (one, two)),
        one.trouble("graph:tienda", "graph", "again"),
    )
    assert sorted(opened) == [False, False, True]  # three sightings, one alert
    assert await one.recovered("graph:tienda", "shop tienda: sends go through again")
    assert not await two.recovered("graph:tienda", "also over")  # closed already
    assert await one.trouble("graph:tienda", "graph", "failing again")  # a new incident
    assert journal(sync_engine) == [
        ("incident.open", "graph:tienda"),
        ("incident.resolved", "graph:tienda"),
        ("incident.open", "graph:tienda"),
    ]
    told = operator_messages(sync_engine)
    assert len(told) == 3 and told[0].startswith("⚠️") and told[1].startswith("✅")
    with sync_engine.connect() as conn:
        recipients = conn.execute(
            text("SELECT DISTINCT recipient, tenant_id FROM central.outbox WHERE kind = 'alert'")
        ).all()
    assert [tuple(r) for r in recipients] == [("525511112222", shops["water"].id)]


@pytest.fixture
async def dispatcher(
    async_engine: AsyncEngine, alerting: Settings
) -> AsyncIterator[tuple[Dispatcher, Incidents]]:
    graph = GraphClient(alerting.whatsapp_api_base_url, alerting.whatsapp_api_version)
    incidents = Incidents(async_engine, alerting)
    yield Dispatcher(async_engine, graph, alerting, incidents=incidents), incidents
    await graph.aclose()


@respx.mock
async def test_a_shops_graph_outage_is_one_incident_and_its_end_another(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: tuple[Dispatcher, Incidents],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    outbox, _ = dispatcher
    answers: list[Any] = [graph_error(500, 131000)] * 6 + [accepted("wamid.OK")] * 20
    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answers)
    alerts = respx.post(f"{GRAPH}/2220002/messages").mock(return_value=accepted("wamid.ALERT"))
    await post(client, cloud.message_from("1110001", "5215512345678", "hola", id="wamid.IN1"))
    for _ in range(7):
        await outbox.dispatch_once()
        make_due(sync_engine)
    assert journal(sync_engine) == [
        ("incident.open", "graph:tienda"),
        ("incident.resolved", "graph:tienda"),
    ]
    assert len(operator_messages(sync_engine)) == 2
    assert alerts.called  # the operator's shop's number told them


@respx.mock
async def test_a_rejected_token_is_an_incident_at_once(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    dispatcher: tuple[Dispatcher, Incidents],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    outbox, incidents = dispatcher
    respx.post(f"{GRAPH}/1110001/messages").mock(
        return_value=httpx.Response(
            401,
            json={"error": {"message": "Invalid OAuth access token", "code": 190}},
        )
    )
    await post(client, cloud.message_from("1110001", "5215512345678", "hola", id="wamid.IN1"))
    await outbox.dispatch_once()
    assert journal(sync_engine) == [("incident.open", "token:tienda")]
    assert incidents.is_open("token:tienda")
    assert "token" in operator_messages(sync_engine)[0]


async def test_the_watch_alerts_while_replies_are_not_leaving(
    async_engine: AsyncEngine,
    alerting: Settings,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    app_client: Client,
) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "5215512345678", "hola", id="wamid.IN1"))
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE central.outbox SET due_at = now() - interval '10 minutes'"))
    watch = Watch(async_engine, Incidents(async_engine, alerting), 15.0, max_age_s=300)
    await watch.look()
    assert OUTBOX_OLDEST_S._value.get() > 590  # the gauge /metrics shows
    await watch.look()  # still: no second alert
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE central.outbox SET status = 'sent'"))
    await watch.look()
    assert journal(sync_engine) == [
        ("incident.open", "outbox_age"),
        ("incident.resolved", "outbox_age"),
    ]


async def test_metrics_show_the_outbox_and_handoffs(app_client: Client) -> None:
    client, _ = app_client
    body = (await client.get("/metrics")).text
    for name in (
        "chatcentral_outbox_pending",
        "chatcentral_outbox_oldest_due_seconds",
        "chatcentral_handoffs_open",
        "chatcentral_orders_created_total",
        "chatcentral_sends_total",
        "chatcentral_alerts_total",
    ):
        assert name in body
