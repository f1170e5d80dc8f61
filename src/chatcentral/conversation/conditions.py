"""Conditions named in flow files: may this transition happen? A refusal sets `error`,
which the customer reads before the same question again."""

from __future__ import annotations

from decimal import Decimal

from transitions import EventData

from chatcentral.conversation import cart
from chatcentral.conversation.model import ConversationState, value_of
from chatcentral.conversation.text_input import (
    parse_decimal,
)


class Conditions(ConversationState):
    def has_last_order(self, event: EventData | None) -> bool:
        return self.facts.customer.last_order is not None

    def cart_not_empty(self, event: EventData | None) -> bool:
        if cart.count(self.context):
            return True
        self.error = self.text("cart.empty")
        return False

    def meets_minimum(self, event: EventData | None) -> bool:
        minimum = self.minimum_order()
        if cart.subtotal(self.context) >= minimum:
            return True
        self.error = self.text(
            "minimum.not_met",
            minimum=cart.money(minimum),
            subtotal=cart.money(cart.subtotal(self.context)),
        )
        return False

    def valid_quantity(self, event: EventData | None) -> bool:
        raw = str(value_of(event) or "")
        quantity = parse_decimal(raw)
        product = self.current_product()
        if quantity is None or quantity <= 0:
            self.error = self.text("quantity.invalid", typed=raw)
            return False
        if product.unit not in cart.FRACTIONAL_UNITS and quantity != quantity.to_integral_value():
            self.error = self.text("quantity.whole_only", unit=cart.UNIT_LABELS[product.unit][1])
            return False
        if quantity != quantity.quantize(Decimal("0.001")):
            self.error = self.text("quantity.invalid", typed=raw)
            return False
        if quantity > self.settings.max_quantity:
            self.error = self.text("quantity.too_many", max=self.settings.max_quantity)
            return False
        in_cart = sum(
            (line.quantity for line in cart.lines(self.context) if line.product_id == product.id),
            Decimal("0"),
        )
        if product.stock is not None and quantity + in_cart > product.stock:
            self.error = self.text(
                "quantity.no_stock", stock=cart.quantity_label(product.stock, product.unit)
            )
            return False
        self.context["quantity"] = str(quantity)
        return True

    def chose_delivery(self, event: EventData | None) -> bool:
        return self.chosen(event, self.settings.fulfillment) == "delivery"

    def single_fulfillment(self, event: EventData | None) -> bool:
        return len(self.settings.fulfillment) == 1

    def no_saved_addresses(self, event: EventData | None) -> bool:
        return not self.facts.customer.addresses

    def known_address(self, event: EventData | None) -> bool:
        return any(str(a.id) == str(value_of(event)) for a in self.facts.customer.addresses)

    def locatable(self, event: EventData | None) -> bool:
        """Zones by postal code need one (or a pin) to tell whether we deliver there."""
        address = self.context.get("address") or {}
        zones = self.settings.delivery_zones
        if not zones or address.get("postal_code") or address.get("latitude") is not None:
            return True
        self.error = self.text("address.need_postal_code")
        return False

    def outside_zones(self, event: EventData | None) -> bool:
        zone = self.zone_for(self.context.get("address") or {})
        self.context["zone"] = zone.model_dump(mode="json") if zone and zone.name else None
        return zone is None

    def always(self, event: EventData | None) -> bool:
        return True

    def cart_is_empty(self, event: EventData | None) -> bool:
        return cart.count(self.context) == 0

    def no_products_to_show(self, event: EventData | None) -> bool:
        """The chosen category (or, without one, the whole catalog) has nothing active."""
        catalog = self.facts.catalog
        category_id = self.context.get("category_id")
        if category_id is None:
            return not catalog.products
        return not catalog.in_category(int(category_id))

    def no_orders(self, event: EventData | None) -> bool:
        return not self.facts.orders

    def has_cart(self, event: EventData | None) -> bool:
        return cart.count(self.context) > 0

    def no_slots(self, event: EventData | None) -> bool:
        return not self.settings.delivery_slots

    def single_payment_method(self, event: EventData | None) -> bool:
        return len(self.settings.payment_methods) == 1

    def paying_cash(self, event: EventData | None) -> bool:
        return self.chosen(event, self.settings.payment_methods) == "cash"

    def paying_transfer(self, event: EventData | None) -> bool:
        return self.chosen(event, self.settings.payment_methods) == "transfer"

    def valid_cash(self, event: EventData | None) -> bool:
        if value_of(event) == "exact":
            self.context["cash_tendered"] = str(self.total())
            return True
        amount = parse_decimal(str(value_of(event) or ""))
        if amount is None or amount <= 0:
            self.error = self.text("cash.invalid")
            return False
        if amount < self.total():
            self.error = self.text("cash.too_low", total=cart.money(self.total()))
            return False
        self.context["cash_tendered"] = str(amount.quantize(cart.CENT))
        return True

    def no_refills(self, event: EventData | None) -> bool:
        return self.refills() == 0

    def valid_empties(self, event: EventData | None) -> bool:
        count = parse_decimal(str(value_of(event) or ""))
        refills = self.refills()
        if count is None or count < 0 or count != count.to_integral_value() or count > refills:
            self.error = self.text("empties.invalid", refills=refills)
            return False
        self.context["empties"] = int(count)
        return True
