"""The cart in the session context: lines, money and quantities as the customer reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chatcentral.conversation import cart
from chatcentral.conversation.context import Context
from chatcentral.conversation.facts import OrderLine, OrderSummary
from tests.support.engine_kit import APPLES, CATALOG, RICE, WATER


def test_adding_a_product_twice_merges_the_line_at_todays_price() -> None:
    context = Context()
    cart.add(context, APPLES, Decimal("1.5"))
    cart.add(context, WATER, Decimal("2"))
    cart.add(context, APPLES, Decimal("0.25"))
    assert [(line.name, line.quantity) for line in cart.lines(context)] == [
        ("Manzana", Decimal("1.75")),
        ("Agua 1 L", Decimal("2")),
    ]
    assert cart.count(context) == 2
    assert cart.subtotal(context) == Decimal("70.00") + Decimal("31.00")


def test_money_rounds_half_up_and_groups_thousands() -> None:
    assert cart.money(Decimal("1234.005")) == "$1,234.01"
    assert cart.money(Decimal("0.5")) == "$0.50"


def test_quantities_read_in_spanish_units() -> None:
    assert cart.quantity_label(Decimal("1"), "PIECE") == "1 pieza"
    assert cart.quantity_label(Decimal("3"), "GARRAFON") == "3 garrafones"
    assert cart.quantity_label(Decimal("1.50"), "KG") == "1.5 kg"


def test_removing_a_product_reports_whether_it_was_there() -> None:
    context = Context()
    cart.add(context, RICE, Decimal("1"))
    assert cart.remove(context, RICE.id) is True
    assert cart.remove(context, RICE.id) is False
    assert cart.count(context) == 0


def test_rebuilding_from_a_past_order_skips_what_is_gone_and_reports_new_prices() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    order = OrderSummary(
        id=7,
        created_at=now,
        status="Entregado",
        status_changed_at=now,
        total=Decimal("0"),
        fulfillment="pickup",
        lines=(
            OrderLine(APPLES.id, "Manzana", "KG", Decimal("10"), Decimal("40.00")),  # stock 5
            OrderLine(WATER.id, "Agua 1 L", "PIECE", Decimal("2"), Decimal("14.00")),
            OrderLine(None, "Producto retirado", "PIECE", Decimal("1"), Decimal("9.00")),
        ),
    )
    context = Context()
    rebuilt = cart.rebuild_from(context, order, CATALOG)
    assert rebuilt.unavailable == ["Manzana", "Producto retirado"]
    assert rebuilt.repriced == ["Agua 1 L: $14.00 → $15.50"]
    assert [(line.product_id, line.price) for line in cart.lines(context)] == [
        (WATER.id, Decimal("15.50"))
    ]
