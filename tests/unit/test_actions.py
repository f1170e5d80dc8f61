"""Actions: what a transition does to the conversation, and the effects it asks for."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatcentral.conversation import cart
from chatcentral.conversation.context import Context
from chatcentral.conversation.effects import (
    Adjustment,
    OpenHandoff,
    OrderPlaced,
    OrderRejected,
    PlaceOrder,
    Problem,
)
from tests.support.engine_kit import APPLES, REFILL, RICE, WATER, conversation, event


class _Recording(dict[str, str]):
    """Texts that remember which keys were said."""

    def __init__(self, texts: dict[str, str]) -> None:
        super().__init__(texts)
        self.keys_read: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.keys_read.append(key)
        return super().__getitem__(key)


@pytest.mark.parametrize(
    ("product_id", "typed", "kept", "said"),
    [
        (APPLES.id, "1.5", "1.5", None),
        (APPLES.id, "1,25", "1.25", None),
        (WATER.id, "2", "2", None),
        (WATER.id, "1.5", None, "quantity.whole_only"),
        (WATER.id, "5", None, "quantity.no_stock"),  # 4 in stock
        (RICE.id, "51", None, "quantity.too_many"),  # the grocery flow's maximum is 50
        (RICE.id, "cero", None, "quantity.invalid"),
        (APPLES.id, "0.0001", None, "quantity.invalid"),
    ],
)
def test_read_quantity_keeps_only_what_can_be_sold(
    product_id: int, typed: str, kept: str | None, said: str | None
) -> None:
    convo = conversation("entering_quantity", Context(product_id=product_id, quantity="9"))
    convo.texts = read = _Recording(convo.texts)
    convo.read_quantity(event(convo, typed))
    assert convo.context.get("quantity") == kept
    assert (convo.error is None) == (said is None)
    assert read.keys_read == ([said] if said else [])


def test_read_quantity_counts_what_is_already_in_the_cart() -> None:
    context = Context(product_id=WATER.id)
    cart.add(context, WATER, Decimal("3"))
    convo = conversation("entering_quantity", context)
    convo.read_quantity(event(convo, "2"))  # 3 + 2 > 4 in stock
    assert "quantity" not in convo.context and convo.error


def test_read_cash_exact_or_enough_to_cover_the_total() -> None:
    context = Context(fulfillment="pickup")
    cart.add(context, RICE, Decimal("2"))  # $60.00
    convo = conversation("entering_cash", context)
    convo.read_cash(event(convo, "exact"))
    assert convo.context["cash_tendered"] == "60.00"
    convo.read_cash(event(convo, "50"))
    assert "cash_tendered" not in convo.context and "$60.00" in str(convo.error)
    convo.error = None
    convo.read_cash(event(convo, "$100"))
    assert convo.context["cash_tendered"] == "100.00" and convo.error is None


def test_read_empties_up_to_the_refills_ordered() -> None:
    context = Context()
    cart.add(context, REFILL, Decimal("3"))
    convo = conversation("entering_empties", context, flow="water_delivery")
    convo.read_empties(event(convo, "4"))
    assert "empties" not in convo.context and convo.error
    convo.error = None
    convo.read_empties(event(convo, "2"))
    assert convo.context["empties"] == 2 and convo.error is None


def test_find_zone_remembers_the_zone_and_its_fee_applies() -> None:
    zones = [{"name": "Centro", "postal_codes": ["06600"], "fee": "20"}]
    context = Context(fulfillment="delivery", address={"postal_code": "06600"})
    convo = conversation("entering_address", context, delivery_zones=zones, delivery_fee="99")
    convo.find_zone(event(convo))
    assert convo.context["zone"] is not None and convo.context["zone"]["name"] == "Centro"
    assert convo.delivery_fee() == Decimal("20")


def test_place_order_asks_for_the_order_with_fee_and_deposit() -> None:
    context = Context(fulfillment="delivery", payment_method="cash", cash_tendered="500.00")
    cart.add(context, REFILL, Decimal("3"))
    context["empties"] = 1
    convo = conversation("confirming_order", context, flow="water_delivery", delivery_fee="10")
    convo.place_order(event(convo))
    (effect,) = convo.effects
    assert isinstance(effect, PlaceOrder)
    assert [line.quantity for line in effect.lines] == [Decimal("3")]
    assert effect.delivery_fee == Decimal("10")
    assert effect.deposit == Decimal("120.00")  # 2 jugs not handed back, $60 each
    assert (effect.jugs_delivered, effect.empties) == (3, 1)
    assert effect.cash_tendered == Decimal("500.00")


def test_an_accepted_order_is_announced_and_the_checkout_cleared() -> None:
    context = Context(fulfillment="pickup", options=[["x", "y"]])
    cart.add(context, RICE, Decimal("1"))
    convo = conversation("placing_order", context)
    convo.announce_order(event(convo, OrderPlaced(order_id=41, total=Decimal("30.00"))))
    convo.flush()
    assert "#41" in str(convo.replies) and "$30.00" in str(convo.replies)
    assert convo.context == Context(options=[["x", "y"]])


def test_a_rejected_order_explains_and_fixes_the_cart() -> None:
    context = Context()
    cart.add(context, WATER, Decimal("3"))
    cart.add(context, RICE, Decimal("1"))
    convo = conversation("placing_order", context)
    rejected = OrderRejected(
        problems=(Problem("rejected.stock", {"name": "Agua 1 L", "available": "2 piezas"}),),
        adjust=(
            Adjustment(WATER.id, Decimal("2")),
            Adjustment(RICE.id, Decimal("1"), Decimal("32.00")),
        ),
    )
    convo.explain_rejection(event(convo, rejected))
    assert [(line.quantity, line.price) for line in cart.lines(convo.context)] == [
        (Decimal("2"), Decimal("15.50")),
        (Decimal("1"), Decimal("32.00")),
    ]
    assert any("2 piezas" in note for note in convo.notes)


def test_asking_for_a_person_opens_a_handoff_with_where_they_were() -> None:
    convo = conversation("offering_agent", Context(return_to="entering_cash"))
    convo.open_handoff(event(convo))
    assert convo.effects == [OpenHandoff(reason="entering_cash")]
