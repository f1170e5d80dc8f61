"""Conditions are predicates: they answer from the context, settings and facts, change
nothing, and a refused one explains itself."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from chatcentral.conversation import cart
from chatcentral.conversation.conditions import Conditions
from chatcentral.conversation.context import Context
from chatcentral.conversation.flow_check import _CONDITIONS
from tests.support.engine_kit import APPLES, conversation, event

ZONES = [
    {"name": "Centro", "postal_codes": ["06600"], "fee": "20", "minimum_order": "0"},
    {"name": "3 km", "radius_km": 3, "fee": "45", "minimum_order": "200"},
]
SHOP_AT = {"latitude": 19.43, "longitude": -99.13}


def a_full_context() -> Context:
    context = Context(
        fulfillment="delivery",
        address={"text": "Calle 1", "postal_code": "06600"},
        payment_method="cash",
        category_id=1,
        product_id=APPLES.id,
    )
    cart.add(context, APPLES, Decimal("2"))
    return context


@pytest.mark.parametrize("name", sorted(_CONDITIONS))
def test_no_condition_changes_the_conversation(name: str) -> None:
    convo = conversation(
        "reviewing_cart", a_full_context(), delivery_zones=ZONES, shop_location=SHOP_AT
    )
    before = copy.deepcopy(convo.context)
    first = getattr(convo, name)(event(convo, "1"))
    second = getattr(convo, name)(event(convo, "1"))
    assert first == second
    assert convo.context == before
    assert convo.error is None and convo.replies == [] and convo.notes == []


def test_every_condition_the_flows_may_name_is_defined_on_conditions() -> None:
    assert "refusal" not in _CONDITIONS
    assert {"cart_not_empty", "valid_quantity", "outside_zones"} <= _CONDITIONS
    assert all(callable(getattr(Conditions, name)) for name in _CONDITIONS)


def test_zones_by_postal_code_and_by_distance() -> None:
    def outside(address: dict[str, object]) -> bool:
        context = Context(fulfillment="delivery", address=address)  # type: ignore[typeddict-item]
        convo = conversation(
            "entering_address", context, delivery_zones=ZONES, shop_location=SHOP_AT
        )
        return bool(convo.outside_zones(None))

    assert outside({"postal_code": "06600"}) is False
    assert outside({"latitude": 19.44, "longitude": -99.13}) is False  # about 1 km away
    assert outside({"latitude": 19.60, "longitude": -99.13}) is True  # about 19 km away
    assert outside({"postal_code": "99999"}) is True


def test_the_minimum_is_the_zone_one_when_higher() -> None:
    context = a_full_context()  # $80.00 of apples
    context["zone"] = {"name": "3 km", "radius_km": 3, "fee": "45", "minimum_order": "200"}
    convo = conversation("reviewing_cart", context, delivery_zones=ZONES, minimum_order="50")
    assert convo.meets_minimum(None) is False
    assert convo.refusal("meets_minimum") == (
        "El pedido mínimo es de $200.00 y tu pedido suma $80.00. Agrega algo más para continuar."
    )
    context["fulfillment"] = "pickup"
    assert conversation("reviewing_cart", context, minimum_order="50").meets_minimum(None)


def test_a_text_address_needs_a_postal_code_only_when_zones_use_them() -> None:
    context = Context(address={"text": "Calle sin código"})
    assert conversation("entering_address", context).locatable(None) is True
    zoned = conversation("entering_address", context, delivery_zones=ZONES)
    assert zoned.locatable(None) is False
    assert "código postal" in str(zoned.refusal("locatable"))


def test_conditions_without_a_reason_to_give_say_nothing() -> None:
    convo = conversation("choosing_address", Context())
    assert convo.refusal("known_address") is None
    assert convo.refusal("cart_not_empty") == convo.text("cart.empty")


def test_known_address_only_for_the_customers_own() -> None:
    convo = conversation("choosing_address")
    assert convo.known_address(event(convo, "1")) is False
