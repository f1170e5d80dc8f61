"""Customers through the API: list (search, pages), one with addresses and orders, and
`forget`, checked against everything the shop stored after a real conversation."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, add_customer, add_order, assert_problem, rows
from tests.db.test_staff import pickup_order
from tests.support.conversation import Customer

ANA = "5215512345678"
ANA_ID = "525512345678"  # as the shop stores her number


async def test_customers_are_listed_searched_and_paged(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ids = [
        add_customer(sync_engine, "tenant_tienda", f"52155000000{n:02d}", name=f"Cliente {n}")
        for n in range(5)
    ]
    add_order(sync_engine, "tenant_tienda", ids[0])
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await api.get("/customers", params=params)).json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    [found] = (await api.get("/customers", params={"search": "cliente 0"})).json()["items"]
    assert found["id"] == ids[0] and found["orders"] == 1 and found["forgotten"] is False
    by_phone = (await api.get("/customers", params={"search": "5500000003"})).json()["items"]
    assert [c["name"] for c in by_phone] == ["Cliente 3"]
    assert_problem(await api.get("/customers", params={"search": ""}), 422)


async def test_one_customer_with_addresses_and_orders_and_cross_shop_404(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", ANA)
    orders = [add_order(sync_engine, "tenant_tienda", ana) for _ in range(2)]
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.customer_addresses (customer_id, address_text) "
                "VALUES (:c, 'Calle 5 #10, Centro')"
            ),
            {"c": ana},
        )
    body = (await api.get(f"/customers/{ana}")).json()
    assert body["name"] == "Ana López" and body["phone"] == ANA_ID
    assert [a["address"] for a in body["addresses"]] == ["Calle 5 #10, Centro"]
    assert [o["id"] for o in body["recent_orders"]] == orders[::-1]

    luis = add_customer(sync_engine, "tenant_agua", "5215599999999", name="Luis Secreto")
    assert luis == ana  # the same id names another person at the other shop
    theirs = await api.get(f"/customers/{luis}", key=api.other_key)
    assert theirs.json()["name"] == "Luis Secreto"
    assert "Luis" not in (await api.get(f"/customers/{ana}")).text
    for response in (
        await api.get(f"/customers/{ana + 1}"),
        await api.post(f"/customers/{ana + 1}/forget"),
    ):
        assert_problem(response, 404)
    add_customer(sync_engine, "tenant_agua", "5215598888888", name="Otro Secreto")
    response = await api.post(f"/customers/{ana + 1}/forget")
    assert_problem(response, 404)
    assert rows(sync_engine, "SELECT name FROM tenant_agua.customers ORDER BY id") == [
        ("Luis Secreto",),
        ("Otro Secreto",),
    ]


async def test_forget_erases_the_person_and_keeps_the_sale(
    api: Api,
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    mary = Customer(client, sync_engine, "1110001", wa_id="5215587654321", name="Mary")
    await mary.says("hola")  # the admin's window is open: the order's news is interactive
    ana = Customer(client, sync_engine, "1110001", wa_id=ANA)
    await pickup_order(ana)  # a real order, its news to the admin
    await ana.says("asesor")
    await ana.says("Mi dirección es Calle Secreta 123")
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.customer_addresses (customer_id, address_text) "
                "SELECT id, 'Calle Secreta 123' FROM tenant_tienda.customers WHERE wa_id = :w"
            ),
            {"w": ANA_ID},
        )
        conn.execute(text("UPDATE tenant_tienda.orders SET notes = 'Tocar en Calle Secreta'"))
        # As if the dispatcher had sent everything queued so far.
        conn.execute(text("UPDATE central.outbox SET status = 'sent', sent_at = now()"))
    [(customer_id, total)] = rows(
        sync_engine,
        "SELECT o.customer_id, o.total FROM tenant_tienda.orders o",
    )

    def everywhere() -> str:
        """Everything the shop keeps, as text."""
        dumped = []
        for table in (
            "tenant_tienda.customers",
            "tenant_tienda.customer_addresses",
            "tenant_tienda.customer_sessions",
            "tenant_tienda.orders",
            "tenant_tienda.messages",
            "tenant_tienda.handoffs",
            "central.outbox",
        ):
            dumped += [
                json.dumps(r, default=str, ensure_ascii=False)
                for r in rows(sync_engine, f"SELECT * FROM {table}")
            ]
        return "\n".join(dumped)

    before = everywhere()
    assert "Ana López" in before and ANA_ID in before and "Calle Secreta" in before

    response = await api.post(f"/customers/{customer_id}/forget")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forgotten"] is True and body["name"] is None and body["phone"] is None
    assert body["addresses"] == [] and body["orders"] == 1
    [order] = body["recent_orders"]
    assert order["total"] == f"{total:.2f}" and order["customer"]["name"] is None

    after = everywhere()
    for secret in ("Ana López", "Ana", ANA_ID, ANA, "Calle Secreta"):
        assert secret not in after, [line for line in after.splitlines() if secret in line]
    detail = (await api.get(f"/orders/{order['id']}")).json()
    assert detail["items"][0]["product_name"] == "Detergente en polvo 1 kg"
    assert detail["total"] == order["total"] and detail["notes"] is None
    assert rows(
        sync_engine,
        "SELECT actor, details->>'customer_id' FROM central.audit_log "
        "WHERE action = 'customer.forget'",
    ) == [(f"api:{api.key[:12]}", str(customer_id))]
    # Forgetting again changes nothing; writing again starts a new customer.
    assert (await api.post(f"/customers/{customer_id}/forget")).status_code == 200
    await ana.says("hola")
    assert (
        rows(
            sync_engine, "SELECT id, wa_id FROM tenant_tienda.customers WHERE wa_id = :w", w=ANA_ID
        )[0][0]
        != customer_id
    )
