"""Conditions named in flow files: may this transition happen? Predicates only: what a
condition needs computed (a quantity read, a zone found) is done by a `prepare` action
before it runs. When every way out of a trigger is refused, `refusal` says why, and the
customer reads that before the same question again."""

from __future__ import annotations

from transitions import EventData

from chatcentral.conversation import cart
from chatcentral.conversation.checkout import Checkout
from chatcentral.conversation.model import value_of


class Conditions(Checkout):
    def has_last_order(self, event: EventData | None) -> bool:
        return self.facts.customer.last_order is not None

    def cart_not_empty(self, event: EventData | None) -> bool:
        return cart.count(self.context) > 0

    def meets_minimum(self, event: EventData | None) -> bool:
        return cart.subtotal(self.context) >= self.minimum_order()

    def valid_quantity(self, event: EventData | None) -> bool:
        """`read_quantity` accepted what was typed."""
        return "quantity" in self.context

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
        return bool(not zones or address.get("postal_code") or address.get("latitude") is not None)

    def outside_zones(self, event: EventData | None) -> bool:
        return self.zone_for(self.context.get("address") or {}) is None

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
        """`read_cash` accepted the amount."""
        return "cash_tendered" in self.context

    def no_refills(self, event: EventData | None) -> bool:
        return self.refills() == 0

    def valid_empties(self, event: EventData | None) -> bool:
        """`read_empties` accepted the number."""
        return "empties" in self.context

    def refusal(self, condition: str) -> str | None:
        """What to tell the customer when `condition` kept them where they are (None: the
        view shown again says enough, or a `prepare` action already said why)."""
        match condition:
            case "cart_not_empty":
                return self.text("cart.empty")
            case "meets_minimum":
                subtotal = cart.subtotal(self.context)
                return self.text(
                    "minimum.not_met",
                    minimum=cart.money(self.minimum_order()),
                    subtotal=cart.money(subtotal),
                )
            case "locatable":
                return self.text("address.need_postal_code")
        return None
