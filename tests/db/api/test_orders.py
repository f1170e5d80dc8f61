"""Orders through the API: list (filters, cursor pages), detail, and the status change
that tells the customer on WhatsApp exactly as an admin's command does."""

from __future__ import annotations

import io
import json

from sqlalchemy import Engine, text

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, add_customer, add_order, assert_problem, days_ago, rows


async def test_orders_are_listed_newest_first_a_page_at_a_time(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    ids = [add_order(sync_engine, "tenant_tienda", ana) for _ in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await api.get("/orders", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [order["id"] for order in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True) and pages == 3
    first = (await api.get("/orders", params={"limit": 1})).json()["items"][0]
    assert first["customer"] == {"id": ana, "name": "Ana López", "phone": "525512345678"}
    assert first["status"] == "pendiente" and first["total"] == "135.00"
    # An order added while paging does not shift the pages already served.
    page1 = (await api.get("/orders", params={"limit": 3})).json()
    add_order(sync_engine, "tenant_tienda", ana)
    page2 = (await api.get("/orders", params={"limit": 3, "cursor": page1["next_cursor"]})).json()
    assert [o["id"] for o in page2["items"]] == sorted(ids, reverse=True)[3:6]


async def test_orders_are_filtered_by_status_and_date(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    old = add_order(sync_engine, "tenant_tienda", ana, created_at=days_ago(10))
    done = add_order(sync_engine, "tenant_tienda", ana, status="entregado")
    sent = add_order(sync_engine, "tenant_tienda", ana, status="en_camino")

    async def ids(params: object) -> list[int]:
        response = await api.get("/orders", params=params)
        assert response.status_code == 200, response.text
        return [order["id"] for order in response.json()["items"]]

    assert await ids({"status": "entregado"}) == [done]
    assert await ids([("status", "entregado"), ("status", "en_camino")]) == [sent, done]
    assert await ids({"created_from": days_ago(1).isoformat()}) == [sent, done]
    assert await ids({"created_to": days_ago(5).isoformat()}) == [old]
    assert await ids({"customer_id": ana + 1}) == []


async def test_bad_list_parameters_are_422_naming_the_field(
    api: Api, shops: dict[str, ProvisionedShop]
) -> None:
    for params, field in (
        ({"status": "perdido"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"created_from": "ayer"}, "created_from"),
        ({"created_from": "2026-01-01T00:00:00"}, "created_from"),  # no time zone
        ({"customer_id": str(2**70)}, "customer_id"),
        ({"colour": "red"}, "colour"),
    ):
        body = assert_problem(await api.get("/orders", params=params), 422)
        assert [e["loc"][:2] for e in body["errors"]] == [["query", field]], body


async def test_one_order_with_items_and_history(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    order = add_order(sync_engine, "tenant_tienda", ana)
    response = await api.get(f"/orders/{order}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == order and body["address"] == "Calle 5 #10"
    assert body["notes"] == "sin cebolla" and body["payment_method"] == "cash"
    assert body["items"] == [
        {
            "product_id": None,
            "product_name": "Detergente en polvo 1 kg",
            "unit": "PIECE",
            "quantity": "3.000",
            "unit_price": "45.00",
            "line_total": "135.00",
        }
    ]
    [entry] = body["history"]
    assert entry["from_status"] is None and entry["status"] == "pendiente"
    assert entry["changed_by"] == "customer"


async def test_another_shops_order_is_404_and_shows_nothing(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    luis = add_customer(sync_engine, "tenant_agua", "5215500000001", name="Luis Secreto")
    theirs = add_order(sync_engine, "tenant_agua", luis)
    for response in (
        await api.get(f"/orders/{theirs}"),
        await api.post(f"/orders/{theirs}/status", json={"status": "confirmado"}),
    ):
        body = assert_problem(response, 404)
        assert "Luis" not in response.text and "Calle" not in response.text
        assert set(body) <= {"type", "title", "status", "detail"}
    assert (await api.get("/orders")).json()["items"] == []
    # Their order did not move and nobody was told anything.
    assert rows(sync_engine, "SELECT count(*) FROM tenant_agua.order_history") == [(1,)]
    assert rows(sync_engine, "SELECT count(*) FROM central.outbox") == [(0,)]
    # With their own key, it is theirs.
    mine = await api.get(f"/orders/{theirs}", key=api.other_key)
    assert mine.status_code == 200 and mine.json()["customer"]["name"] == "Luis Secreto"
    # Ids that cannot exist are 404 too, never a 500.
    for path in ("/orders/0", f"/orders/{2**64}", "/orders/abc", "/orders/-1"):
        assert_problem(await api.get(path), 404)


async def test_a_status_change_tells_the_customer_like_whatsapp_does(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    order = add_order(sync_engine, "tenant_tienda", ana)
    response = await api.post(f"/orders/{order}/status", json={"status": "en_camino"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "en_camino" and body["status_name"] == "En camino"
    prefix = api.key[:12]
    assert body["history"][-1]["changed_by"] == f"api:{prefix}"
    assert body["history"][-1]["from_status"] == "pendiente"
    # The same message the admin's "pedido 1 en camino" queues, for the customer's number.
    [(recipient, message)] = rows(
        sync_engine, "SELECT recipient, payload->'text'->>'body' FROM central.outbox"
    )
    assert recipient == "525512345678"
    assert message == f"🚚 Tu pedido #{order} va en camino."

    cancel = await api.post(
        f"/orders/{order}/status", json={"status": "cancelado", "note": "sin stock"}
    )
    problem = assert_problem(cancel, 409)
    assert problem["reason"] == "too_late_to_cancel" and problem["current_status"] == "En camino"
    assert rows(sync_engine, "SELECT count(*) FROM central.outbox") == [(1,)]


async def test_a_cancellation_carries_its_reason_to_the_customer(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    order = add_order(sync_engine, "tenant_tienda", ana)
    response = await api.post(
        f"/orders/{order}/status", json={"status": "cancelado", "note": "sin stock"}
    )
    assert response.status_code == 200, response.text
    [(message,)] = rows(sync_engine, "SELECT payload->'text'->>'body' FROM central.outbox")
    assert f"#{order}" in message and "sin stock" in message
    assert_problem(await api.post(f"/orders/{order}/status", json={"status": "entregado"}), 409)


async def test_bad_status_bodies_are_422_or_400_never_500(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    order = add_order(sync_engine, "tenant_tienda", ana)
    path = f"/orders/{order}/status"
    for body, fields in (
        ({"status": "volando"}, [["body", "status"]]),
        ({}, [["body", "status"]]),
        ({"status": "confirmado", "note": "x" * 1001}, [["body", "note"]]),
        ({"status": "confirmado", "note": "a\x00b"}, [["body", "note"]]),
        ({"status": "confirmado", "extra": 1}, [["body", "extra"]]),
        ([1, 2], [["body"]]),
    ):
        problem = assert_problem(await api.post(path, json=body), 422)
        assert [e["loc"] for e in problem["errors"]] == fields, problem
        assert all(e["message"] for e in problem["errors"])
    assert_problem(await api.post(path), 422)  # no body at all
    for raw in (b"{nope", b'{"status": NaN}', b"\xff\xfe", b"[" * 100_000):
        assert_problem(await api.post(path, content=raw), 400)
    lone = b'{"status": "confirmado", "note": "\\ud800"}'
    assert_problem(await api.post(path, content=lone), 422)
    assert rows(sync_engine, "SELECT count(*) FROM tenant_tienda.order_history") == [(1,)]


async def test_unknown_paths_and_methods_are_problems(
    api: Api, shops: dict[str, ProvisionedShop]
) -> None:
    assert_problem(await api.get("/nothing-here"), 404)
    response = await api.request("DELETE", "/orders")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


async def test_an_order_links_to_the_receipt_the_customer_sent(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    customer = add_customer(sync_engine, "tenant_tienda", "5215511112222")
    order_id = add_order(sync_engine, "tenant_tienda", customer)
    assert (await api.get(f"/orders/{order_id}")).json()["payment_proof"] is None
    receipt = b"\xff\xd8 a photo of a transfer"
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE tenant_tienda.orders SET payment_proof_media_id = 'MEDIA1' WHERE id = :o"),
            {"o": order_id},
        )
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.messages (customer_id, direction, wamid, type, body, "
                "status, media_state, media_key, media_mime, media_size) VALUES (:c, 'in', "
                "'wamid.RECEIPT', 'image', CAST(:b AS jsonb), 'received', 'pending', NULL, "
                "'image/jpeg', NULL)"
            ),
            {"c": customer, "b": json.dumps({"type": "image", "image": {"id": "MEDIA1"}})},
        )
    pending = (await api.get(f"/orders/{order_id}")).json()["payment_proof"]
    assert pending == {"state": "pending", "url": None}  # not downloaded yet
    key = "tenant_tienda/2026/11/receipt.jpg"
    await api.client._transport.app.state.media_store.put(key, io.BytesIO(receipt), "image/jpeg")  # type: ignore[attr-defined]
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenant_tienda.messages SET media_state = 'stored', media_key = :k "
                "WHERE wamid = 'wamid.RECEIPT'"
            ),
            {"k": key},
        )
    stored = (await api.get(f"/orders/{order_id}")).json()["payment_proof"]
    assert stored["state"] == "stored" and "/media/" in stored["url"]
    fetched = await api.client.get(stored["url"])
    assert fetched.status_code == 200 and fetched.content == receipt
    # Another shop's key sees neither the order nor its receipt.
    assert_problem(await api.get(f"/orders/{order_id}", key=api.other_key), 404)
