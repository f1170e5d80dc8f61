"""The panel's conversations: the open handoffs of the shop, one as a chat (customer text
escaped, media behind fresh short-lived links), an answer that reaches the customer's
WhatsApp through the relay, closing it as the WhatsApp close does; another shop's
conversation is 404 and a POST without the session's CSRF token does nothing. And the
order page's link to a transfer receipt."""

from __future__ import annotations

import io
import json

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import add_customer, add_order, rows
from tests.support.conversation import Customer
from tests.support.panel import sign_in

SCRIPT_NAME = "<script>alert(1)</script>"
GROCERY = "1110001"  # the test shops' phone number ids
WATER = "2220002"


async def ask_for_a_person(
    client: httpx.AsyncClient,
    engine: Engine,
    shop_number: str = GROCERY,
    wa_id: str = "5215512345678",
    name: str = "Ana López",
    then: str = "¿Tienen tortillas de harina?",
) -> Customer:
    customer = Customer(client, engine, shop_number, wa_id=wa_id, name=name)
    await customer.says("hola")
    await customer.says("asesor")
    assert "le aviso a una persona" in customer.text_of_last()
    await customer.says(then)
    return customer


def outbox_count(engine: Engine) -> int:
    return int(rows(engine, "SELECT count(*) FROM central.outbox")[0][0])


def handoff_ids(engine: Engine, schema: str) -> list[int]:
    return [row[0] for row in rows(engine, f"SELECT id FROM {schema}.handoffs ORDER BY id")]


async def test_the_list_shows_the_open_conversations_of_this_shop_only(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    empty = await browser.get("/panel/conversations")
    assert empty.status_code == 200 and "No hay conversaciones abiertas" in empty.text
    assert 'aria-current="page">Chats' in empty.text

    await ask_for_a_person(browser, sync_engine)
    done = await ask_for_a_person(browser, sync_engine, wa_id="5215500001111", name="Beto")
    await done.says("menu")  # back to the bot: that handoff is closed
    await ask_for_a_person(browser, sync_engine, WATER, wa_id="5215522223333", name="Carla")
    listed = (await browser.get("/panel/conversations")).text
    ana = handoff_ids(sync_engine, shops["grocery"].schema)[0]
    assert f'href="/panel/conversations/{ana}"' in listed
    assert "Ana López" in listed and "+525512345678" in listed
    assert "“¿Tienen tortillas de harina?”" in listed
    assert "Pidió hablar con una persona" in listed and "Sin atender" in listed
    assert "Espera menos de 1 min" in listed
    assert "Beto" not in listed and "Carla" not in listed
    assert listed.count("data-handoff=") == 1


async def test_customer_text_is_escaped_in_the_list_and_the_chat(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await ask_for_a_person(
        browser, sync_engine, name=SCRIPT_NAME, then='"><img src=x onerror=alert(2)>'
    )
    (handoff,) = handoff_ids(sync_engine, shops["grocery"].schema)
    await sign_in(browser, sync_engine, shops["grocery"].id)
    for path in ("/panel/conversations", f"/panel/conversations/{handoff}"):
        html = (await browser.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html


async def test_an_answer_reaches_the_customer_and_takes_the_conversation(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    ana = await ask_for_a_person(browser, sync_engine)
    (handoff,) = handoff_ids(sync_engine, schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    chat = (await browser.get(f"/panel/conversations/{handoff}")).text
    assert 'class="bubble customer"' in chat and "¿Tienen tortillas de harina?" in chat
    assert "Espera respuesta" in chat and "Enviar" in chat and "Cerrar conversación" in chat

    sent = await browser.post(
        f"/panel/conversations/{handoff}/reply",
        data={"csrf": csrf, "text": "  Sí, a $35 el paquete  "},
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/panel/conversations/{handoff}?ok=sent"
    replies = ana.arrivals()
    assert len(replies) == 1 and replies[0]["text"]["body"] == "Sí, a $35 el paquete"
    assert rows(
        sync_engine, f"SELECT status, claimed_by, waiting_since FROM {schema}.handoffs"
    ) == [("claimed", "525587654321", None)]
    chat = (await browser.get(f"/panel/conversations/{handoff}?ok=sent")).text
    assert "tu respuesta va en camino" in chat and "Atiende: tú" in chat
    assert chat.index("¿Tienen tortillas") < chat.index('class="bubble shop"')
    assert chat.index('class="bubble shop"') < chat.index("Sí, a $35 el paquete")
    listed = (await browser.get("/panel/conversations")).text
    assert "Atiende: +525587654321" in listed

    # An empty answer is refused and nothing leaves.
    before = outbox_count(sync_engine)
    empty = await browser.post(
        f"/panel/conversations/{handoff}/reply", data={"csrf": csrf, "text": "   "}
    )
    assert empty.status_code == 422 and "Escribe una respuesta" in empty.text
    assert outbox_count(sync_engine) == before


async def test_closing_tells_the_customer_and_a_closed_conversation_takes_nothing(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    ana = await ask_for_a_person(browser, sync_engine)
    (handoff,) = handoff_ids(sync_engine, schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    closed = await browser.post(f"/panel/conversations/{handoff}/close", data={"csrf": csrf})
    assert closed.status_code == 303, closed.text
    assert closed.headers["location"] == f"/panel/conversations/{handoff}?ok=closed"
    told = ana.arrivals()
    assert len(told) == 1 and "menú" in ana.text_of_last().lower()
    assert rows(sync_engine, f"SELECT status FROM {schema}.handoffs") == [("closed",)]
    assert rows(sync_engine, f"SELECT state FROM {schema}.customer_sessions") == [("main_menu",)]
    page = (await browser.get(f"/panel/conversations/{handoff}?ok=closed")).text
    assert "Conversación cerrada" in page and 'name="text"' not in page
    assert "No hay conversaciones abiertas" in (await browser.get("/panel/conversations")).text

    before = outbox_count(sync_engine)
    again = await browser.post(f"/panel/conversations/{handoff}/close", data={"csrf": csrf})
    assert again.status_code == 409 and "ya está cerrada" in again.text
    answer = await browser.post(
        f"/panel/conversations/{handoff}/reply", data={"csrf": csrf, "text": "¿Sigues ahí?"}
    )
    assert answer.status_code == 409 and "ya está cerrada" in answer.text
    unknown = await browser.post(
        f"/panel/conversations/{handoff + 99}/reply", data={"csrf": csrf, "text": "Hola"}
    )
    assert unknown.status_code == 404
    assert outbox_count(sync_engine) == before


async def test_no_answer_outside_the_customers_24_hour_window(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    schema = shops["grocery"].schema
    await ask_for_a_person(browser, sync_engine)
    (handoff,) = handoff_ids(sync_engine, schema)
    with sync_engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {schema}.customers SET last_inbound_at = now() - interval '25 hours'")
        )
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    before = outbox_count(sync_engine)
    refused = await browser.post(
        f"/panel/conversations/{handoff}/reply", data={"csrf": csrf, "text": "Hola"}
    )
    assert refused.status_code == 409 and "24 horas" in refused.text
    assert ">Hola</textarea>" in refused.text  # the draft is kept
    assert outbox_count(sync_engine) == before


async def test_another_shops_conversation_is_404_and_a_post_without_csrf_is_403(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await ask_for_a_person(browser, sync_engine, WATER)
    (theirs,) = handoff_ids(sync_engine, shops["water"].schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    before = outbox_count(sync_engine)
    for response in (
        await browser.get(f"/panel/conversations/{theirs}"),
        await browser.get(f"/panel/conversations/{theirs}/media/1"),
        await browser.post(
            f"/panel/conversations/{theirs}/reply", data={"csrf": csrf, "text": "Hola"}
        ),
        await browser.post(f"/panel/conversations/{theirs}/close", data={"csrf": csrf}),
        await browser.get(f"/panel/conversations/{2**63}"),
    ):
        assert response.status_code == 404
        assert "Ana" not in response.text and "tortillas" not in response.text
    assert outbox_count(sync_engine) == before
    assert rows(sync_engine, "SELECT status FROM tenant_agua.handoffs") == [("open",)]

    ours = await ask_for_a_person(browser, sync_engine, wa_id="5215500002222", name="Dora")
    (handoff,) = handoff_ids(sync_engine, shops["grocery"].schema)
    before = outbox_count(sync_engine)
    for path, data in (
        (f"/panel/conversations/{handoff}/reply", {"text": "Hola"}),
        (f"/panel/conversations/{handoff}/reply", {"csrf": "forged", "text": "Hola"}),
        (f"/panel/conversations/{handoff}/close", {}),
    ):
        assert (await browser.post(path, data=data)).status_code == 403
    assert outbox_count(sync_engine) == before and ours.arrivals() == []
    assert rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs") == [("open",)]


async def test_a_photo_in_the_chat_opens_through_a_fresh_link(
    browser: httpx.AsyncClient,
    panel_app: Starlette,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    schema = shops["grocery"].schema
    ana = await ask_for_a_person(browser, sync_engine)
    await ana.sends_photo("MEDIA-PHOTO")
    (handoff,) = handoff_ids(sync_engine, schema)
    ((photo,),) = rows(sync_engine, f"SELECT id FROM {schema}.messages WHERE type = 'image'")
    await sign_in(browser, sync_engine, shops["grocery"].id)
    chat = (await browser.get(f"/panel/conversations/{handoff}")).text
    assert "📷 Foto" in chat and "Guardando el archivo" in chat and "Ver comprobante" not in chat

    content = b"\xff\xd8 the customer's photo"
    key = f"{schema}/2026/11/photo.jpg"
    await panel_app.state.media_store.put(key, io.BytesIO(content), "image/jpeg")
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {schema}.messages SET media_state = 'stored', media_key = :k WHERE id = :m"
            ),
            {"k": key, "m": photo},
        )
    chat = (await browser.get(f"/panel/conversations/{handoff}")).text
    link = f"/panel/conversations/{handoff}/media/{photo}"
    assert f'href="{link}"' in chat and "Ver comprobante/archivo" in chat
    opened = await browser.get(link)
    assert opened.status_code == 303 and "/media/" in opened.headers["location"]
    assert opened.headers["referrer-policy"] == "no-referrer"
    fetched = await browser.get(opened.headers["location"])
    assert fetched.status_code == 200 and fetched.content == content
    # Only the messages of this conversation, and only the customer's.
    assert (await browser.get(f"/panel/conversations/{handoff}/media/{photo + 1}")).status_code == (
        404
    )


async def test_the_order_page_links_to_the_receipt_once_kept(
    browser: httpx.AsyncClient,
    panel_app: Starlette,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    schema = shops["grocery"].schema
    customer = add_customer(sync_engine, schema, "5215511112222")
    order = add_order(sync_engine, schema, customer)
    plain = add_order(sync_engine, schema, customer)
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {schema}.orders SET payment_method = 'transfer', "
                "payment_proof_media_id = 'MEDIA1' WHERE id = :o"
            ),
            {"o": order},
        )
        conn.execute(
            text(
                f"INSERT INTO {schema}.messages (customer_id, direction, wamid, type, body, "
                "status, media_mime) VALUES (:c, 'in', 'wamid.RECEIPT', 'image', "
                "CAST(:b AS jsonb), 'received', 'image/jpeg')"
            ),
            {"c": customer, "b": json.dumps({"type": "image", "image": {"id": "MEDIA1"}})},
        )
    await sign_in(browser, sync_engine, shops["grocery"].id)
    pending = (await browser.get(f"/panel/orders/{order}")).text
    assert "Guardando el comprobante" in pending and "/receipt" not in pending
    assert "Comprobante" not in (await browser.get(f"/panel/orders/{plain}")).text
    assert (await browser.get(f"/panel/orders/{plain}/receipt")).status_code == 404

    receipt = b"\xff\xd8 a photo of a transfer"
    key = f"{schema}/2026/11/receipt.jpg"
    await panel_app.state.media_store.put(key, io.BytesIO(receipt), "image/jpeg")
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {schema}.messages SET media_state = 'stored', media_key = :k "
                "WHERE wamid = 'wamid.RECEIPT'"
            ),
            {"k": key},
        )
    stored = (await browser.get(f"/panel/orders/{order}")).text
    assert f'href="/panel/orders/{order}/receipt"' in stored and "Ver comprobante" in stored
    opened = await browser.get(f"/panel/orders/{order}/receipt")
    assert opened.status_code == 303 and "/media/" in opened.headers["location"]
    fetched = await browser.get(opened.headers["location"])
    assert fetched.status_code == 200 and fetched.content == receipt
