"""Conversations with a person through the API: a customer asks for one on WhatsApp (the
real webhook), the API lists it, answers (the answer is queued for the customer from the
shop's number, through the relay) and closes it (the customer is back at the menu)."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, assert_problem, rows
from tests.support.conversation import Customer

MARY = "5215587654321"  # the test shops' admin
MARY_ID = "525587654321"


async def ask_for_a_person(client: httpx.AsyncClient, engine: Engine, number: str) -> Customer:
    ana = Customer(client, engine, number)
    await ana.says("hola")
    await ana.says("asesor")
    assert "le aviso a una persona" in ana.text_of_last()
    await ana.says("¿Tienen tortillas de harina?")
    return ana


async def test_a_handoff_is_listed_answered_and_closed(
    api: Api,
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    mary = Customer(client, sync_engine, "1110001", wa_id=MARY, name="Mary")
    await mary.says("hola")  # her window is open: she hears who answered
    ana = await ask_for_a_person(client, sync_engine, "1110001")
    listed = (await api.get("/handoffs")).json()["items"]
    assert [(h["id"], h["customer"], h["claimed_by"]) for h in listed] == [(1, "Ana López", None)]
    assert listed[0]["waiting_since"] is not None and listed[0]["phone"] == "525512345678"
    detail = (await api.get("/handoffs/1")).json()
    assert [(m["direction"], m["text"]) for m in detail["messages"] if m["direction"] == "in"] == [
        ("in", "¿Tienen tortillas de harina?")
    ]

    response = await api.post("/handoffs/1/reply", json={"text": "  Sí, a $35 el paquete  "})
    assert response.status_code == 200, response.text
    body = response.json()
    prefix = api.key[:12]
    assert body["status"] == "claimed" and body["claimed_by"] == f"api:{prefix}"
    assert body["waiting_since"] is None
    assert (body["messages"][-1]["direction"], body["messages"][-1]["text"]) == (
        "out",
        "Sí, a $35 el paquete",
    )
    # The answer is queued for the customer from the shop's number, as an admin's is.
    ana.arrivals()
    assert ana.text_of_last() == "Sí, a $35 el paquete"
    mary.arrivals()
    assert "pos (API) tomó la conversación #1" in mary.text_of_last()
    listed = (await api.get("/handoffs")).json()["items"]
    assert listed[0]["claimed_by"] == f"api:{prefix}"

    closed = await api.post("/handoffs/1/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    ana.arrivals()
    assert "menú" in ana.text_of_last().lower()
    assert rows(sync_engine, "SELECT state FROM tenant_tienda.customer_sessions") == [
        ("main_menu",)
    ]
    assert (await api.get("/handoffs")).json()["items"] == []
    assert_problem(await api.post("/handoffs/1/close"), 409)
    assert_problem(await api.post("/handoffs/1/reply", json={"text": "¿Sigues ahí?"}), 409)


async def test_no_answer_outside_the_customers_24_hour_window(
    api: Api,
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    await ask_for_a_person(client, sync_engine, "1110001")
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenant_tienda.customers SET last_inbound_at = now() - interval '25 hours'")
        )
    before = rows(sync_engine, "SELECT count(*) FROM central.outbox")
    problem = assert_problem(await api.post("/handoffs/1/reply", json={"text": "Hola"}), 409)
    assert problem["type"].endswith("/window-closed")
    assert rows(sync_engine, "SELECT count(*) FROM central.outbox") == before


async def test_another_shops_handoff_is_404_and_bad_replies_422(
    api: Api,
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    await ask_for_a_person(client, sync_engine, "2220002")  # at the water company
    before = rows(sync_engine, "SELECT count(*) FROM central.outbox")
    for response in (
        await api.get("/handoffs/1"),
        await api.post("/handoffs/1/reply", json={"text": "Hola"}),
        await api.post("/handoffs/1/close"),
    ):
        assert_problem(response, 404)
        assert "Ana" not in response.text and "tortillas" not in response.text
    assert (await api.get("/handoffs")).json()["items"] == []
    assert rows(sync_engine, "SELECT count(*) FROM central.outbox") == before
    assert rows(sync_engine, "SELECT status FROM tenant_agua.handoffs") == [("open",)]
    # The water company's own key sees it.
    theirs = (await api.get("/handoffs", key=api.other_key)).json()["items"]
    assert [h["customer"] for h in theirs] == ["Ana López"]
    for body in ({"text": "   "}, {"text": "x" * 4097}, {}, {"text": 5}, {"text": "a\x00"}):
        problem = assert_problem(
            await api.post("/handoffs/1/reply", json=body, key=api.other_key), 422
        )
        assert [e["loc"] for e in problem["errors"]] == [["body", "text"]], problem
