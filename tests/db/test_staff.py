"""The shop's admins on WhatsApp: recognised, a menu of their own, orders moved from the
phone with the customer told, through the signed POST /webhook and real PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer

Client = tuple[httpx.AsyncClient, Starlette]
ADMIN = "5215587654321"  # the test shops' admin, in WhatsApp's old Mexican form
OTHER_ADMIN = "5215511112222"


def rows(engine: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params).all()]


async def pickup_order(customer: Customer) -> None:
    """A short order: three detergents picked up, paid by card."""
    await customer.says("hola")
    await customer.says("catalogo")
    titles = customer.option_titles()
    await customer.taps(titles.index("Limpieza") + 1)
    await customer.taps(customer.option_titles().index("Detergente en polvo 1 kg") + 1)
    await customer.taps(1)  # Agregar al pedido
    await customer.says("3")
    await customer.taps(1)  # Finalizar
    await customer.taps(2)  # Recoger en tienda
    await customer.taps(3)  # Tarjeta al entregar
    await customer.taps(1)  # Sin notas
    await customer.taps(1)  # Confirmar


async def test_an_admin_gets_the_admin_menu_never_the_customer_flow(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    admin = Customer(client, sync_engine, "1110001", wa_id=ADMIN, name="Doña Mary")
    await admin.says("hola")
    assert admin.option_titles() == [
        "Pedidos pendientes",
        "Conversaciones abiertas",
        "Ver como cliente",
        "Ayuda",
    ]
    assert "Bienvenido" not in admin.text_of_last() and "panel" in admin.text_of_last()
    [(wa_id, window)] = rows(sync_engine, "SELECT wa_id, last_inbound_at FROM tenant_tienda.staff")
    assert wa_id == "525587654321" and window is not None
    assert rows(sync_engine, "SELECT state FROM tenant_tienda.customer_sessions") == []


async def test_an_order_moved_from_the_phone_tells_the_customer(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await pickup_order(ana)
    admin = Customer(client, sync_engine, "1110001", wa_id=ADMIN, name="Doña Mary")
    await admin.says("pedidos")
    assert admin.option_titles() == ["#1 · $135.00"]
    await admin.taps(1)
    detail = admin.text_of_last()
    assert "Pedido #1" in detail and "3 piezas Detergente en polvo 1 kg" in detail
    assert "Recoge en tienda" in detail and "Tarjeta al entregar" in detail
    assert admin.option_titles() == ["Confirmar", "En camino", "Cancelar"]

    await admin.taps(2)  # En camino, by the button
    assert "Pedido #1: *En camino*" in admin.text_of_last()
    ana.last = ana._new_replies()
    assert ana.text_of_last() == "🚚 Tu pedido #1 va en camino."

    await admin.says("pedido 1 entregado")  # typed
    assert "Pedido #1: *Entregado*" in admin.text_of_last()
    history = rows(
        sync_engine,
        "SELECT f.code, s.code, h.changed_by FROM tenant_tienda.order_history h "
        "JOIN tenant_tienda.order_status s ON s.id = h.status_id "
        "LEFT JOIN tenant_tienda.order_status f ON f.id = h.from_status_id ORDER BY h.id",
    )
    assert history == [
        (None, "pendiente", "customer"),
        ("pendiente", "en_camino", "admin:+525587654321"),
        ("en_camino", "entregado", "admin:+525587654321"),
    ]
    await admin.says("pedidos")
    assert "No hay pedidos pendientes" in admin.text_of_last()


async def test_forbidden_moves_and_unknown_orders_get_a_clear_answer(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    await pickup_order(Customer(client, sync_engine, "1110001"))
    # Two orders at the water company: order #2 exists there, not at the grocery store.
    for phone in ("5215500000001", "5215500000002"):
        luis = Customer(client, sync_engine, "2220002", wa_id=phone, name="Luis")
        await luis.says("hola")
        await luis.says("pedido")
        await luis.taps(1)  # Garrafón 20 L (recarga)
        await luis.taps(1)  # Agregar al pedido
        await luis.says("1")
        await luis.taps(1)  # Finalizar
        await luis.says("1")  # one empty jug back
        await luis.shares_location(19.43, -99.13)
        await luis.taps(1)  # first slot
        await luis.taps(1)  # cash
        await luis.taps(1)  # exact
        await luis.taps(1)  # no notes
        await luis.taps(1)  # confirm
    assert rows(sync_engine, "SELECT count(*) FROM tenant_agua.orders") == [(2,)]

    admin = Customer(client, sync_engine, "1110001", wa_id=ADMIN, name="Doña Mary")
    # The news of each new order reached her first (both shops have her phone as admin).
    assert {message["type"] for message in admin.arrivals()} == {"template"}
    await admin.says("pedido 2")
    assert admin.text_of_last() == "No encontré el pedido #2 en esta tienda."
    await admin.says("123 entregado")
    assert admin.text_of_last() == "No encontré el pedido #123 en esta tienda."
    await admin.says("1 en camino")
    await admin.says("cancelar 1 ya no hay")
    assert admin.text_of_last() == "El pedido #1 ya está *En camino*: ya no se puede cancelar."
    await admin.says("pedido 1 confirmado")
    assert "no puede regresar a un estado anterior" in admin.text_of_last()
    await admin.says("pedido 1 volando")
    assert "No entendí" in admin.text_of_last()
    assert rows(sync_engine, "SELECT count(*) FROM tenant_tienda.order_history") == [(2,)]
    assert rows(sync_engine, "SELECT count(*) FROM tenant_agua.order_history") == [(2,)]


async def test_two_admins_at_once_one_wins_the_other_is_told(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, app = app_client
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET admin_phones = "
                "ARRAY['+525587654321', '+525511112222'] WHERE slug = 'tienda'"
            )
        )
    app.state.directory.invalidate()
    await pickup_order(Customer(client, sync_engine, "1110001"))
    mary = Customer(client, sync_engine, "1110001", wa_id=ADMIN, name="Mary")
    pepe = Customer(client, sync_engine, "1110001", wa_id=OTHER_ADMIN, name="Pepe")
    for admin in (mary, pepe):  # the news of the order reached both first
        assert [message["type"] for message in admin.arrivals()] == ["template"]
    await asyncio.gather(mary.says("pedido 1 en camino"), pepe.says("cancelar 1"))
    answers = sorted([mary.text_of_last(), pepe.text_of_last()])
    history = rows(sync_engine, "SELECT count(*) FROM tenant_tienda.order_history")
    assert history == [(2,)]  # the first row, and the one change that won
    [(status,)] = rows(
        sync_engine,
        "SELECT s.code FROM tenant_tienda.orders o "
        "JOIN tenant_tienda.order_status s ON s.id = o.status_id",
    )
    if status == "en_camino":
        assert answers == [
            "El pedido #1 ya está *En camino*: ya no se puede cancelar.",
            "✅ Pedido #1: *En camino*. Ya le avisamos al cliente.",
        ]
    else:
        assert status == "cancelado"
        assert answers == [
            "El pedido #1 ya está *Cancelado*: no se puede cambiar.",
            "✅ Pedido #1: *Cancelado*. Ya le avisamos al cliente.",
        ]


async def test_an_admin_can_try_the_bot_as_a_customer_until_salir(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    admin = Customer(client, sync_engine, "1110001", wa_id=ADMIN, name="Mary")
    await admin.says("ver como cliente")
    assert "salir" in admin.text_of_last()
    await admin.says("hola")
    assert admin.option_titles()[:2] == ["Ver catálogo", "Hacer un pedido"]
    await admin.says("salir")
    assert "Volviste al panel" in admin.text_of_last()
    assert admin.option_titles()[0] == "Pedidos pendientes"


async def test_undelivered_news_shows_on_the_next_admin_message(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    admin = Customer(client, sync_engine, "1110001", wa_id=ADMIN, name="Mary")
    await admin.says("hola")
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE tenant_tienda.staff SET undelivered = 1"))
    await admin.says("pedidos")
    assert admin.text_of_last().startswith("⚠️ 1 aviso(s) no entregado(s)")
    await admin.says("pedidos")
    assert "⚠️" not in admin.text_of_last()
