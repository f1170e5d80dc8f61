"""Actions named in flow files: what a transition does to the conversation (the cart, the
address, the payment) and the effects it asks the service to apply."""

from __future__ import annotations

from decimal import Decimal

from transitions import EventData

from chatcentral.conversation import cart
from chatcentral.conversation.checkout import Checkout
from chatcentral.conversation.effects import (
    OpenHandoff,
    OrderPlaced,
    OrderRejected,
    PlaceOrder,
)
from chatcentral.conversation.model import MAIN_MENU, value_of
from chatcentral.conversation.text_input import parse_decimal, postal_code_in


class Actions(Checkout):
    def pick_category(self, event: EventData) -> None:
        self.context["category_id"] = int(value_of(event))
        self.context["page"] = 0

    def show_all_products(self, event: EventData) -> None:
        self.context.pop("category_id", None)
        self.context["page"] = 0

    def next_page(self, event: EventData) -> None:
        self.context["page"] = int(self.context.get("page", 0)) + 1

    def pick_product(self, event: EventData) -> None:
        product_id = int(value_of(event))
        if self.facts.catalog.product(product_id) is None:
            raise LookupError("product not in catalog")
        self.context["product_id"] = product_id

    # --- prepare: read and check what was typed, for the conditions that follow ----------

    def read_quantity(self, event: EventData) -> None:
        """Keep the quantity typed when it is one the product can be sold in, else say why."""
        self.context.pop("quantity", None)
        raw = str(value_of(event) or "")
        quantity = parse_decimal(raw)
        product = self.current_product()
        if quantity is None or quantity <= 0:
            self.error = self.text("quantity.invalid", typed=raw)
        elif product.unit not in cart.FRACTIONAL_UNITS and quantity != quantity.to_integral():
            self.error = self.text("quantity.whole_only", unit=cart.UNIT_LABELS[product.unit][1])
        elif quantity != quantity.quantize(Decimal("0.001")):
            self.error = self.text("quantity.invalid", typed=raw)
        elif quantity > self.settings.max_quantity:
            self.error = self.text("quantity.too_many", max=self.settings.max_quantity)
        elif product.stock is not None and quantity + self._in_cart(product.id) > product.stock:
            stock = cart.quantity_label(product.stock, product.unit)
            self.error = self.text("quantity.no_stock", stock=stock)
        else:
            self.context["quantity"] = str(quantity)

    def _in_cart(self, product_id: int) -> Decimal:
        return sum(
            (line.quantity for line in cart.lines(self.context) if line.product_id == product_id),
            Decimal("0"),
        )

    def read_cash(self, event: EventData) -> None:
        """Keep the cash amount the customer will pay with when it covers the total."""
        self.context.pop("cash_tendered", None)
        if value_of(event) == "exact":
            self.context["cash_tendered"] = str(self.total())
            return
        amount = parse_decimal(str(value_of(event) or ""))
        if amount is None or amount <= 0:
            self.error = self.text("cash.invalid")
        elif amount < self.total():
            self.error = self.text("cash.too_low", total=cart.money(self.total()))
        else:
            self.context["cash_tendered"] = str(amount.quantize(cart.CENT))

    def read_empties(self, event: EventData) -> None:
        """Keep the number of empty jugs handed back: a whole number up to the refills."""
        self.context.pop("empties", None)
        count = parse_decimal(str(value_of(event) or ""))
        refills = self.refills()
        if count is None or count < 0 or count != count.to_integral_value() or count > refills:
            self.error = self.text("empties.invalid", refills=refills)
        else:
            self.context["empties"] = int(count)

    def find_zone(self, event: EventData) -> None:
        """Remember the delivery zone of the address (its fee and minimum apply)."""
        zone = self.zone_for(self.context.get("address") or {})
        self.context["zone"] = zone.model_dump(mode="json") if zone and zone.name else None

    # --- before: what a transition does -----------------------------------------------

    def add_to_cart(self, event: EventData) -> None:
        cart.add(self.context, self.current_product(), Decimal(self.context.pop("quantity")))
        self.say("cart.added", name=self.current_product().name)

    def tell_cart_empty(self, event: EventData) -> None:
        self.say("cart.empty")

    def tell_catalog_empty(self, event: EventData) -> None:
        self.say("catalog.empty")

    def tell_no_orders(self, event: EventData) -> None:
        self.say("status.none")

    def remove_item(self, event: EventData) -> None:
        cart.remove(self.context, int(value_of(event)))

    def clear_cart(self, event: EventData) -> None:
        self.clear_checkout()
        self.say("cart.cleared")

    def set_fulfillment(self, event: EventData) -> None:
        choice = self.chosen(event, self.settings.fulfillment)
        self.context["fulfillment"] = choice
        if choice == "pickup":
            self.context.pop("address", None)
            self.context.pop("zone", None)

    def use_saved_address(self, event: EventData) -> None:
        saved = next(
            (a for a in self.facts.customer.addresses if str(a.id) == str(value_of(event))), None
        )
        if saved is None:
            return  # known_address refuses the transition
        self.context["fulfillment"] = "delivery"
        self.context["address"] = {
            "address_id": saved.id,
            "text": saved.text,
            "postal_code": saved.postal_code,
            "latitude": saved.latitude,
            "longitude": saved.longitude,
        }

    def set_location(self, event: EventData) -> None:
        pin = dict(value_of(event))
        label = ", ".join(str(pin[k]) for k in ("name", "address") if pin.get(k)) or None
        self.context["fulfillment"] = "delivery"
        self.context["address"] = {
            "text": label,
            "postal_code": postal_code_in(label or ""),
            "latitude": pin["latitude"],
            "longitude": pin["longitude"],
        }

    def set_address_text(self, event: EventData) -> None:
        text = str(value_of(event))
        self.context["fulfillment"] = "delivery"
        self.context["address"] = {"text": text, "postal_code": postal_code_in(text)}

    def set_slot(self, event: EventData) -> None:
        slot = next((s for s in self.settings.delivery_slots if s.id == value_of(event)), None)
        self.context["slot"] = slot.id if slot else None
        self.context["slot_title"] = slot.title if slot else None

    def set_payment(self, event: EventData) -> None:
        self.context["payment_method"] = self.chosen(event, self.settings.payment_methods)
        self.context.pop("cash_tendered", None)
        self.context.pop("receipt_media_id", None)

    def set_receipt(self, event: EventData) -> None:
        self.context["receipt_media_id"] = dict(value_of(event)).get("media_id")
        self.say("transfer.thanks")

    def set_notes(self, event: EventData) -> None:
        self.context["notes"] = str(value_of(event))

    def clear_notes(self, event: EventData) -> None:
        self.context["notes"] = None

    def place_order(self, event: EventData) -> None:
        cash = self.context.get("cash_tendered")
        self.effects.append(
            PlaceOrder(
                lines=tuple(cart.lines(self.context)),
                fulfillment=self.context.get("fulfillment", "pickup"),
                address=self.context.get("address"),
                slot=self.context.get("slot_title"),
                payment_method=self.context.get("payment_method"),
                cash_tendered=Decimal(cash) if cash else None,
                receipt_media_id=self.context.get("receipt_media_id"),
                notes=self.context.get("notes"),
                delivery_fee=self.delivery_fee(),
                deposit=self.deposit()[1],
                empties=int(self.context.get("empties", 0)),
                jugs_delivered=self.refills(),
                minimum_order=self.minimum_order(),
            )
        )

    def announce_order(self, event: EventData) -> None:
        placed = value_of(event)
        assert isinstance(placed, OrderPlaced)
        self.say(
            "order.placed",
            number=placed.order_id,
            total=cart.money(placed.total),
            summary="\n".join(self.summary_lines()),
        )
        opening = self.opening_phrase()
        if opening:
            self.say("hours.order_later", opening=opening)
        self.clear_checkout()

    def explain_rejection(self, event: EventData) -> None:
        rejected = value_of(event)
        assert isinstance(rejected, OrderRejected)
        for problem in rejected.problems:
            self.say(problem.text, **problem.values)
        self.say("rejected.review")
        for change in rejected.adjust:
            if change.quantity <= 0:
                cart.remove(self.context, change.product_id)
                continue
            for line in self.context.get("cart", []):
                if line["product_id"] == change.product_id:
                    line["quantity"] = str(change.quantity)
                    if change.price is not None:
                        line["price"] = str(change.price)

    def repeat_last_order(self, event: EventData) -> None:
        last = self.facts.customer.last_order
        assert last is not None
        rebuilt = cart.rebuild_from(self.context, last, self.facts.catalog)
        if rebuilt.unavailable:
            self.say("repeat.unavailable", names=", ".join(rebuilt.unavailable))
        if rebuilt.repriced:
            self.say("repeat.repriced", changes="\n".join(rebuilt.repriced))

    def open_handoff(self, event: EventData) -> None:
        self.effects.append(OpenHandoff(reason=self.context.get("return_to")))

    def pick_order(self, event: EventData) -> None:
        self.context["order_id"] = int(value_of(event))

    def latest_order(self, event: EventData) -> None:
        self.context.pop("order_id", None)

    def remember_state(self, event: EventData) -> None:
        self.context["return_to"] = self.state

    def go_back(self, event: EventData) -> None:
        self.redirect = str(self.context.pop("return_to", MAIN_MENU))

    def confirm_cancel(self, event: EventData) -> None:
        self.context.pop("return_to", None)
        self.clear_checkout()
        self.say("cancel.done")

    def restart(self, event: EventData) -> None:
        self.clear_checkout()
