"""Views: every message a state shows is valid for the Cloud API and says what matters."""

from __future__ import annotations

from decimal import Decimal

from chatcentral.conversation import cart
from chatcentral.conversation.context import Context
from chatcentral.conversation.facts import (
    Catalog,
    Category,
    CustomerFacts,
    Facts,
    OrderLine,
    OrderSummary,
    Product,
    SavedAddress,
)
from chatcentral.conversation.views import VIEWS, clip
from chatcentral.simulator.render import render
from chatcentral.whatsapp import outbound
from tests.support.engine_kit import REFILL, RICE, conversation, facts


def many_products(count: int) -> Catalog:
    products = tuple(
        Product(i, 1, f"Producto {i}", None, Decimal("1.00"), "PIECE", None)
        for i in range(1, count + 1)
    )
    return Catalog((Category(1, "Todo"),), products)


def test_clip_marks_what_it_shortened() -> None:
    assert clip("corto", 24) == "corto"
    assert clip("x" * 30, 24) == "x" * 23 + "…"


def test_a_long_product_list_pages_with_ver_mas() -> None:
    the_facts = facts(many_products(25))
    pages = []
    for page in range(3):
        convo = conversation("choosing_product", Context(category_id=1, page=page))
        convo.facts = the_facts
        (message,) = VIEWS["products"](convo)
        outbound.validate(message)
        pages.append([option.title for option in render(message).options])
    assert all(len(page) <= outbound.LIST_ROWS_MAX for page in pages)
    shown = [title for page in pages for title in page if title != "Ver más"]
    assert shown == [f"Producto {i}" for i in range(1, 26)]
    assert pages[0][-1] == "Ver más" and pages[2][-1] != "Ver más"


def test_the_summary_shows_fee_deposit_and_change() -> None:
    context = Context(fulfillment="delivery", address={"text": "Calle 5"}, empties=1)
    cart.add(context, REFILL, Decimal("2"))
    context["payment_method"] = "cash"
    context["cash_tendered"] = "500.00"
    convo = conversation("confirming_order", context, flow="water_delivery", delivery_fee="15")
    (message,) = VIEWS["summary"](convo)
    outbound.validate(message)
    text = "\n".join(render(message).lines)
    assert "$15.00" in text  # fee
    assert "$60.00" in text  # one jug without an empty back
    assert "$500.00" in text and "Calle 5" in text
    assert "$145.00" in text  # 2 × 35 + 15 + 60


def test_every_state_shown_builds_valid_messages_with_a_cart() -> None:
    now = facts().now
    line = OrderLine(RICE.id, RICE.name, RICE.unit, Decimal("2"), RICE.price)
    last = OrderSummary(9, now, "Entregado", now, Decimal("60"), "pickup", (line,))
    customer = CustomerFacts("Ana", 1, (SavedAddress(1, "Calle 5", "06600", None, None),), last)
    with_history = Facts(now=now, catalog_=facts().catalog, customer_=customer, orders_=(last,))
    for flow in ("grocery", "water_delivery"):
        context = Context(category_id=1, product_id=RICE.id, fulfillment="pickup")
        cart.add(context, RICE, Decimal("2"))
        for state in conversation(flow=flow).flow.states:
            convo = conversation(state.name, Context(**context), flow=flow, the_facts=with_history)
            if state.skip is not None and getattr(convo, state.skip.when)(None):
                continue  # never shown: the state is left at once
            for message in VIEWS[state.view](convo):
                outbound.validate(message)
