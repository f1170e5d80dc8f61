"""Conversations end to end through the real POST /webhook, real PostgreSQL, the real flows."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer

Client = tuple[httpx.AsyncClient, Starlette]


def rows(engine: Engine, sql: str, **params: object) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


async def add_product(ana: Customer, category: str, product: str, quantity: str) -> None:
    """From anywhere in the catalog: choose category and product by title, add a quantity."""
    titles = ana.option_titles()
    await ana.taps(titles.index(category) + 1)
    await ana.taps(ana.option_titles().index(product) + 1)
    await ana.taps(1)  # Agregar al pedido
    await ana.says(quantity)


async def grocery_cart(ana: Customer) -> None:
    await ana.says("hola")
    await ana.says("1")  # typed: Ver catálogo
    await add_product(ana, "Frutas y verduras", "Aguacate Hass", "1.5")
    await ana.taps(2)  # Agregar más productos
    await add_product(ana, "Lácteos y huevo", "Huevo blanco 12 piezas", "2")
    await ana.taps(2)
    await add_product(ana, "Abarrotes", "Arroz súper extra 1 kg", "1")


async def test_new_customer_orders_three_products_delivered_to_a_pin(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    first = await ana.says("hola")
    assert len(first) == 1  # greeting and menu in one message
    assert "Abarrotes Doña Mary" in ana.text_of_last() and "Ana" in ana.text_of_last()
    assert ana.option_titles() == [
        "Ver catálogo",
        "Hacer un pedido",
        "Estado de pedido",
        "Hablar con un asesor",
    ]
    await grocery_cart(ana)
    cart = ana.text_of_last()
    assert "1.5 kg Aguacate Hass — $118.50" in cart
    assert "2 paquetes Huevo blanco 12 piezas — $84.00" in cart
    assert "Subtotal: *$236.50*" in cart

    await ana.taps(1)  # Finalizar pedido
    assert ana.option_titles() == ["Entrega a domicilio", "Recoger en tienda"]
    await ana.taps(1)  # no saved address yet: straight to the location request
    assert ana.last[0]["interactive"]["type"] == "location_request_message"
    await ana.shares_location(19.4326, -99.1332, "Casa", "Av. Reforma 222, Juárez, CP 06600")
    assert ana.option_titles() == ["Efectivo", "Transferencia", "Tarjeta al entregar"]
    assert "$261.50" in ana.text_of_last()  # 236.50 + 25.00 delivery
    await ana.taps(1)
    await ana.says("300")
    await ana.says("Tocar el timbre dos veces")
    summary = ana.text_of_last()
    assert "Total: *$261.50*" in summary and "Entrega en: Casa, Av. Reforma 222" in summary
    assert "Efectivo (pagas con $300.00)" in summary
    assert ana.option_titles() == ["Confirmar", "Editar", "Cancelar"]
    await ana.taps(1)

    [order] = rows(sync_engine, "SELECT * FROM tenant_tienda.orders")
    assert ana.text_of_last().count(f"#{order.id}") == 1  # type: ignore[attr-defined]
    assert (order.subtotal, order.delivery_fee, order.total) == (  # type: ignore[attr-defined]
        Decimal("236.50"),
        Decimal("25.00"),
        Decimal("261.50"),
    )
    assert order.fulfillment == "delivery" and order.payment_method == "cash"  # type: ignore[attr-defined]
    assert order.cash_tendered == Decimal("300.00")  # type: ignore[attr-defined]
    assert order.notes == "Tocar el timbre dos veces"  # type: ignore[attr-defined]
    assert float(order.latitude) == 19.4326  # type: ignore[attr-defined]
    items = rows(
        sync_engine,
        "SELECT product_name, unit, quantity, unit_price, line_total "
        "FROM tenant_tienda.order_items ORDER BY id",
    )
    assert [tuple(i) for i in items] == [  # type: ignore[arg-type]
        ("Aguacate Hass", "KG", Decimal("1.500"), Decimal("79.00"), Decimal("118.50")),
        ("Huevo blanco 12 piezas", "BOX", Decimal("2.000"), Decimal("42.00"), Decimal("84.00")),
        ("Arroz súper extra 1 kg", "PIECE", Decimal("1.000"), Decimal("34.00"), Decimal("34.00")),
    ]
    history = rows(
        sync_engine,
        "SELECT s.code, h.changed_by FROM tenant_tienda.order_history h "
        "JOIN tenant_tienda.order_status s ON s.id = h.status_id",
    )
    assert [tuple(h) for h in history] == [("pendiente", "customer")]  # type: ignore[arg-type]
    stock = rows(sync_engine, "SELECT stock FROM tenant_tienda.products WHERE name='Aguacate Hass'")
    assert stock[0][0] == Decimal("18.500")  # type: ignore[index]
    [address] = rows(
        sync_engine, "SELECT address_text, postal_code FROM tenant_tienda.customer_addresses"
    )
    assert tuple(address) == ("Casa, Av. Reforma 222, Juárez, CP 06600", "06600")  # type: ignore[arg-type]
    notes = rows(sync_engine, "SELECT kind FROM tenant_tienda.notifications")
    assert [n[0] for n in notes] == ["order.created"]  # type: ignore[index]
    # Back at the menu, which now offers to repeat the order.
    assert ana.option_titles()[-1] == "Repetir mi último pedido"


async def test_status_after_a_confirmed_order(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("estado")
    assert "Aún no tienes pedidos" in ana.text_of_last()
    await ana.says("catalogo")
    await add_product(ana, "Limpieza", "Detergente en polvo 1 kg", "3")
    await ana.taps(1)  # Finalizar
    await ana.taps(2)  # Recoger en tienda
    await ana.taps(3)  # Tarjeta al entregar
    await ana.taps(1)  # Sin notas
    await ana.taps(1)  # Confirmar
    await ana.says("ESTADO")
    status = ana.text_of_last()
    assert "Pedido #1" in status and "3 piezas Detergente en polvo 1 kg" in status
    assert "Estado: *Pendiente*" in status and "Total: $135.00" in status


async def test_water_order_then_repeat_my_last_order(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    luis = Customer(client, sync_engine, "2220002", wa_id="5215598765432", name="Luis")
    await luis.says("hola")
    await luis.says("pedido")  # no past order: the products straight away
    await luis.taps(luis.option_titles().index("Garrafón 20 L (recarga)") + 1)
    await luis.taps(1)
    await luis.says("3")
    await luis.taps(1)  # Finalizar pedido
    assert "¿Cuántos garrafones vacíos" in luis.text_of_last()
    await luis.says("1")  # returns one empty: deposit for two
    assert luis.last[0]["interactive"]["type"] == "location_request_message"
    await luis.says("Calle Pino 12, Col. Centro, CP 01000")
    assert luis.option_titles() == [
        "Hoy por la mañana",
        "Hoy por la tarde",
        "Mañana por la mañana",
        "Mañana por la tarde",
    ]
    await luis.taps(3)
    await luis.taps(2)  # Transferencia
    assert "CLABE" in luis.text_of_last()
    await luis.sends_photo("media-receipt-1")
    await luis.taps(1)  # Sin notas
    summary = luis.text_of_last()
    assert "Depósito de 2 garrafón(es) — $120.00" in summary
    assert "Total: *$225.00*" in summary  # 3 × 35 + 2 × 60
    await luis.taps(1)
    [first] = rows(
        sync_engine,
        "SELECT id, deposit, total, delivery_slot, payment_proof_media_id FROM tenant_agua.orders",
    )
    assert tuple(first)[1:] == (  # type: ignore[arg-type]
        Decimal("120.00"),
        Decimal("225.00"),
        "Mañana por la mañana",
        "media-receipt-1",
    )
    held = rows(sync_engine, "SELECT jugs_held FROM tenant_agua.customers")
    assert held[0][0] == 2  # type: ignore[index]

    # "Repetir mi último pedido": one tap rebuilds the cart at today's prices.
    await luis.says("menu")
    assert luis.option_titles()[-1] == "Repetir mi último pedido"
    await luis.says("5")
    assert "3 garrafones Garrafón 20 L (recarga) — $105.00" in luis.text_of_last()
    await luis.taps(1)  # Finalizar
    await luis.says("3")  # all three empties back: no deposit now
    await luis.taps(1)  # the saved address
    await luis.taps(1)  # Hoy por la mañana
    await luis.taps(1)  # Efectivo
    await luis.taps(1)  # Pago exacto
    await luis.says("no")
    assert "Depósito" not in luis.text_of_last() and "Total: *$105.00*" in luis.text_of_last()
    await luis.taps(1)
    totals = rows(sync_engine, "SELECT total FROM tenant_agua.orders ORDER BY id")
    assert [t[0] for t in totals] == [Decimal("225.00"), Decimal("105.00")]  # type: ignore[index]

    # The third time "Hacer un pedido" offers the usual.
    await luis.says("pedido")
    assert "¿Lo de siempre? 3 garrafones Garrafón 20 L (recarga) — $105.00" in luis.text_of_last()
    await luis.taps(1)
    assert "¿Cuántos garrafones vacíos" in luis.text_of_last()


async def test_handoff_silences_the_bot_until_menu(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("Hablar con un asesor")  # an option's title, typed
    assert "le aviso a una persona" in ana.text_of_last()
    assert "escribe *menú*" in ana.text_of_last()
    [handoff] = rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs")
    assert handoff[0] == "open"  # type: ignore[index]
    assert await ana.says("¿Tienen tortillas de harina?") == []
    stored = rows(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='in'")
    assert stored[0][0] == 3  # type: ignore[index]
    await ana.says("Menú")
    assert ana.option_titles()[0] == "Ver catálogo"
    [handoff] = rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs")
    assert handoff[0] == "closed"  # type: ignore[index]


async def test_invalid_input_at_every_step_gets_the_options_again(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")

    async def nonsense(expected: str = "No entendí") -> None:
        before = ana.option_titles() if _interactive(ana) else None
        await ana.says("zzz qwerty")
        assert expected in ana.text_of_last()
        if before is not None:
            assert ana.option_titles() == before

    await ana.says("hola")
    await nonsense()
    await ana.says("1")
    await nonsense()  # categories
    await ana.taps(1)
    await nonsense()  # products
    await ana.taps(1)
    await nonsense()  # product detail
    await ana.taps(1)
    for bad, expected in (
        ("dos", "«dos» no es una cantidad"),
        ("-1", "no es una cantidad"),
        ("9999", "El máximo por producto es 50"),
        ("4.5", None),
    ):
        await ana.says(bad)
        if expected is None:
            break
        assert expected in ana.text_of_last()
        assert ana.last[-1]["type"] == "text"  # the quantity question again
    await nonsense()  # cart
    await ana.says("finalizar")
    await nonsense()  # fulfillment
    await ana.taps(2)  # pickup
    await nonsense()  # payment
    await ana.taps(1)  # cash
    await ana.says("cien")
    assert "Escribe solo la cantidad" in ana.text_of_last()
    await ana.says("10")
    assert "no cubre tu total" in ana.text_of_last()
    await ana.taps(1)  # Pago exacto
    await ana.taps(1)  # Sin notas
    await nonsense()  # summary
    await ana.sends_photo("stray-photo")
    assert "en este paso no lo necesito" in ana.text_of_last()
    assert ana.option_titles() == ["Confirmar", "Editar", "Cancelar"]


async def test_three_misses_in_a_row_offer_a_person(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("asdf")
    await ana.says("qwer")
    await ana.says("zxcv")
    assert "¿Quieres hablar con una persona?" in ana.text_of_last()
    assert ana.option_titles() == ["Hablar con un asesor", "Menú principal"]
    await ana.taps(1)
    assert rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs")


async def test_an_idle_session_greets_again_and_offers_the_unfinished_cart(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("catálogo")
    await add_product(ana, "Bebidas", "Café soluble 200 g", "2")
    await ana.says("2")  # typed: Agregar más productos
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenant_tienda.customer_sessions "
                "SET expires_at = now() - interval '1 minute'"
            )
        )
    await ana.says("hola")
    assert "¡Hola de nuevo Ana!" in ana.text_of_last()
    assert "Tienes un pedido sin terminar con 1 producto(s)" in ana.text_of_last()
    assert ana.option_titles() == ["Continuar pedido", "Empezar de nuevo"]
    await ana.taps(1)
    assert "2 piezas Café soluble 200 g — $178.00" in ana.text_of_last()

    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenant_tienda.customer_sessions "
                "SET expires_at = now() - interval '1 minute'"
            )
        )
    await ana.says("buenas")
    await ana.taps(2)  # Empezar de nuevo
    await ana.says("pedido")
    assert "Estas son nuestras categorías" in ana.text_of_last()  # the cart was dropped


async def test_typed_numbers_and_keywords_with_any_accents_and_capitals(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    for typed, expected in (
        ("CATÁLOGO", "Estas son nuestras categorías"),
        ("menu", "¿Qué te gustaría hacer?"),
        ("Catalogo", "Estas son nuestras categorías"),
        ("INICIO", "¿Qué te gustaría hacer?"),
        ("3", "Aún no tienes pedidos"),
        ("Estado de pedido", "Aún no tienes pedidos"),
        ("2", "Estas son nuestras categorías"),  # Hacer un pedido, empty cart
        ("ayuda", "Puedo mostrarte el catálogo"),
        ("4", "No entendí"),  # categories: typed 4 is Bebidas
    ):
        await ana.says(typed)
        if expected == "No entendí":
            assert "Bebidas" in ana.text_of_last()
            break
        assert expected in ana.text_of_last(), (typed, ana.text_of_last())


async def test_cancel_asks_before_discarding_a_cart(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("1")
    await add_product(ana, "Bebidas", "Agua natural 1.5 L", "6")
    await ana.says("cancelar")
    assert "Tienes 1 producto(s) en tu pedido. ¿Seguro" in ana.text_of_last()
    await ana.taps(2)  # No, continuar: back where she was
    assert "Agua natural 1.5 L" in ana.text_of_last()
    await ana.says("cancelar")
    await ana.taps(1)
    assert "Listo, cancelado" in ana.text_of_last()
    await ana.says("pedido")
    assert "Estas son nuestras categorías" in ana.text_of_last()


async def test_minimum_order_and_stock_are_checked(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("1")
    await add_product(ana, "Bebidas", "Agua natural 1.5 L", "2")  # $32: under the $100 minimum
    await ana.says("finalizar")
    assert "El pedido mínimo es de $100.00 y tu pedido suma $32.00" in ana.text_of_last()
    await ana.taps(2)
    await add_product(ana, "Bebidas", "Café soluble 200 g", "11")
    assert "solo nos quedan 10 piezas" in ana.text_of_last()
    await ana.says("2")
    await ana.taps(1)  # Finalizar ($210)
    await ana.taps(2)  # pickup
    await ana.taps(3)  # card
    await ana.taps(1)  # no notes
    with sync_engine.begin() as conn:  # meanwhile the shop sold coffee
        conn.execute(
            text("UPDATE tenant_tienda.products SET stock = 1 WHERE name = 'Café soluble 200 g'")
        )
    await ana.taps(1)  # Confirmar
    assert "Solo nos quedan 1 pieza de *Café soluble 200 g*" in ana.text_of_last()
    assert rows(sync_engine, "SELECT id FROM tenant_tienda.orders") == []
    assert "1 pieza Café soluble 200 g — $89.00" in ana.text_of_last()  # the cart, adjusted


async def test_a_whatsapp_catalog_cart_continues_at_checkout(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE tenant_tienda.products SET retailer_id = 'sku-' || id"))
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.sends_cart([("sku-3", 2), ("sku-999", 1)])
    text_shown = ana.text_of_last()
    assert "1 producto(s) de tu carrito ya no están" in text_shown
    assert ana.option_titles() == ["Entrega a domicilio", "Recoger en tienda"]


def _interactive(customer: Customer) -> bool:
    return any(message.get("type") == "interactive" for message in customer.last)
