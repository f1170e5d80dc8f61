"""Actions named in flow files: what a transition does to the conversation (the cart, the
address, the payment) and the effects it asks the service to apply."""

from __future__ import annotations

from decimal import Decimal

from transitions import EventData

from chatcentral.conversation import cart
from chatcentral.conversation.events import Event
from chatcentral.conversation.model import MAIN_MENU, ConversationState, Effect, value_of
from chatcentral.conversation.text_input import (
    postal_code_in,
)


class Actions(ConversationState):
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
        deposit_count, deposit = self.deposit()
        self.effects.append(
            Effect(
                "create_order",
                {
                    "lines": self.context.get("cart", []),
                    "fulfillment": self.context.get("fulfillment", "pickup"),
                    "address": self.context.get("address"),
                    "slot": self.context.get("slot_title"),
                    "payment_method": self.context.get("payment_method"),
                    "cash_tendered": self.context.get("cash_tendered"),
                    "receipt_media_id": self.context.get("receipt_media_id"),
                    "notes": self.context.get("notes"),
                    "delivery_fee": str(self.delivery_fee()),
                    "deposit": str(deposit),
                    "empties": int(self.context.get("empties", 0)),
                    "jugs_delivered": self.refills(),
                    "deposit_jugs": deposit_count,
                    "minimum_order": str(self.minimum_order()),
                    "total": str(self.total()),
                },
            )
        )

    def announce_order(self, event: EventData) -> None:
        details = dict((event.kwargs.get("inbound") or Event("effect")).details)
        self.say(
            "order.placed",
            number=details.get("order_id"),
            total=cart.money(Decimal(str(details.get("total", "0")))),
            summary="\n".join(self.summary_lines()),
        )
        self.clear_checkout()

    def explain_rejection(self, event: EventData) -> None:
        details = dict((event.kwargs.get("inbound") or Event("effect")).details)
        for problem in details.get("problems", []):
            values = dict(problem)
            self.say(values.pop("text"), **values)
        self.say("rejected.review")
        for item in details.get("adjust", []):
            if Decimal(item["quantity"]) <= 0:
                cart.remove(self.context, int(item["product_id"]))
            else:
                for line in self.context.get("cart", []):
                    if line["product_id"] == int(item["product_id"]):
                        line["quantity"] = item["quantity"]
                        line["price"] = item.get("price", line["price"])

    def repeat_last_order(self, event: EventData) -> None:
        last = self.facts.customer.last_order
        assert last is not None
        rebuilt = cart.rebuild_from(self.context, last, self.facts.catalog)
        if rebuilt.unavailable:
            self.say("repeat.unavailable", names=", ".join(rebuilt.unavailable))
        if rebuilt.repriced:
            self.say("repeat.repriced", changes="\n".join(rebuilt.repriced))

    def set_empties(self, event: EventData) -> None:
        """valid_empties stored the number."""

    def open_handoff(self, event: EventData) -> None:
        self.effects.append(Effect("open_handoff", {"reason": self.context.get("return_to")}))

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
