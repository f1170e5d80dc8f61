"""Through the signed POST /webhook and real PostgreSQL: "asesor" from several states
opens a ticket, and a closed shop still takes the order and says when it is attended."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.db.test_conversation import add_product
from tests.support.conversation import Customer

Client = tuple[httpx.AsyncClient, Starlette]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def tickets(engine: Engine, schema: str) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT status, reason FROM {schema}.handoffs ORDER BY id"))
        return [(row.status, row.reason) for row in rows]


async def test_asesor_opens_a_handoff_from_several_states(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("catalogo")
    await add_product(ana, "Limpieza", "Detergente en polvo 1 kg", "3")
    await ana.taps(1)  # Finalizar
    await ana.taps(2)  # Recoger en tienda
    await ana.taps(3)  # Tarjeta al entregar
    await ana.taps(1)  # Sin notas
    await ana.taps(1)  # Confirmar
    await ana.says("estado")  # the order-status view, where "asesor" used to be a miss
    assert "Pedido #1" in ana.text_of_last()
    await ana.says("asesor")
    assert "le aviso a una persona" in ana.text_of_last()
    assert "No entendí" not in ana.text_of_last()
    assert tickets(sync_engine, "tenant_tienda") == [("open", "checking_status")]
    await ana.says("menú")  # leaves the handoff: the ticket is closed
    assert tickets(sync_engine, "tenant_tienda") == [("closed", "checking_status")]

    # In the middle of a quantity, with a synonym and capitals.
    await ana.says("catalogo")
    titles = ana.option_titles()
    await ana.taps(titles.index("Limpieza") + 1)
    await ana.taps(ana.option_titles().index("Detergente en polvo 1 kg") + 1)
    await ana.taps(1)  # Agregar al pedido: the quantity prompt
    await ana.says("Quiero hablar con una PERSONA")
    assert "le aviso a una persona" in ana.text_of_last()
    assert tickets(sync_engine, "tenant_tienda")[-1] == ("open", "entering_quantity")
    await ana.says("menu")

    # Water shop: at "¿Lo de siempre?" and while typing the empties.
    luis = Customer(client, sync_engine, "2220002", wa_id="5215598765432", name="Luis")
    await luis.says("hola")
    await luis.says("pedido")
    await luis.taps(luis.option_titles().index("Garrafón 20 L (recarga)") + 1)
    await luis.taps(1)
    await luis.says("2")
    await luis.taps(1)  # Finalizar: "¿Cuántos garrafones vacíos…?"
    await luis.says("humano")
    assert "le aviso a una persona" in luis.text_of_last()
    assert tickets(sync_engine, "tenant_agua") == [("open", "entering_empties")]


def close_today(engine: Engine, slug: str) -> None:
    """Open every day but closed today: today is a holiday."""
    today = datetime.now(UTC).astimezone(ZoneInfo("America/Mexico_City")).date()
    hours = {**{day: [["09:00", "18:00"]] for day in DAYS}, "holidays": [today.isoformat()]}
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE central.tenants SET business_hours = CAST(:h AS jsonb) WHERE slug = :s"),
            {"h": json.dumps(hours), "s": slug},
        )


async def test_a_closed_shop_takes_the_order_and_says_when_it_will_be_attended(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    close_today(sync_engine, "tienda")
    client, _ = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("catalogo")
    await add_product(ana, "Limpieza", "Detergente en polvo 1 kg", "3")
    await ana.taps(1)  # Finalizar
    await ana.taps(2)  # Recoger en tienda
    await ana.taps(3)  # Tarjeta al entregar
    await ana.taps(1)  # Sin notas
    summary = ana.text_of_last()
    assert "🕘 Ahora estamos cerrados. Tu pedido se atenderá a partir de mañana a las 09:00." in (
        summary
    )
    assert "Resumen de tu pedido" in summary
    await ana.taps(1)  # Confirmar: the order is taken all the same
    placed = ana.text_of_last()
    assert "¡Pedido confirmado!" in placed
    assert "Tu pedido se atenderá a partir de mañana a las 09:00" in placed
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenant_tienda.orders")).scalar() == 1

    await ana.says("asesor")
    handoff = ana.text_of_last()
    assert "le aviso a una persona" in handoff
    assert "Ahora estamos cerrados. Nuestro horario: lun–dom 09:00–18:00." in handoff
    assert "Te responderemos en cuanto abramos: mañana a las 09:00." in handoff
