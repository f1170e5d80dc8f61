"""The conversation model driven by `transitions`: one machine per flow, built once.

`Conversation` is the machine's model for one message: it holds the state and context,
reads the input, fires the flow's trigger (whose conditions and actions are the methods
named in the flow file), renders the state it lands in, and collects replies and effects.
It does no I/O; facts it lacks raise `MissingFacts` and the service supplies them.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from transitions import EventData, Machine

from chatcentral.conversation import cart, views
from chatcentral.conversation.events import LOCATION, MEDIA, REPLY, TEXT, Event
from chatcentral.conversation.facts import Facts, Product
from chatcentral.conversation.flow import FlowSpec, InputSpec, Settings, StateSpec, Zone
from chatcentral.conversation.text_input import (
    coordinates_in,
    normalize,
    parse_decimal,
    postal_code_in,
)
from chatcentral.tenancy.directory import Shop
from chatcentral.whatsapp import outbound

MAIN_MENU = "main_menu"
HANDOFF = "handoff"
NEW = "new"
EXPIRED = "expired"
MAX_MISSES = 3
_MENU_WORDS = {"menu", "inicio", "menu principal", "volver al menu"}
_CANCEL_WORDS = {"cancelar", "cancela", "cancelar pedido"}
_HELP_WORDS = {"ayuda", "help", "que puedes hacer"}
_GREETINGS = {"hola", "buenas", "buenos dias", "buenas tardes", "buenas noches", "hi", "ola"}
# Leaving these states never asks "¿descartar tu pedido?".
_CALM_STATES = {MAIN_MENU, HANDOFF, "checking_status", "listing_orders", "offering_agent"}


_MACHINES: dict[int, tuple[FlowSpec, Machine]] = {}


def machine_for(flow: FlowSpec) -> Machine:
    """The flow's state machine, built once; models are passed per call, never added."""
    built = _MACHINES.get(id(flow))
    if built is None or built[0] is not flow:
        built = (flow, _build_machine(flow))
        _MACHINES[id(flow)] = built
    return built[1]


def _build_machine(flow: FlowSpec) -> Machine:
    return Machine(
        model=None,
        states=[state.name for state in flow.states],
        transitions=[
            {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": t.dest,
                "conditions": list(t.conditions),
                "unless": list(t.unless),
                "prepare": list(t.prepare),
                "before": list(t.before),
            }
            for t in flow.transitions
        ],
        initial=flow.initial,
        auto_transitions=False,
        send_event=True,
    )


class Conversation:
    """One customer's conversation while one message is handled."""

    def __init__(
        self,
        flow: FlowSpec,
        settings: Settings,
        texts: dict[str, str],
        shop: Shop,
        state: str,
        context: dict[str, Any],
        facts: Facts,
    ) -> None:
        self.flow = flow
        self.settings = settings
        self.texts = texts
        self.shop = shop
        self.state = state
        self.context = context
        self.facts = facts
        self.replies: list[dict[str, Any]] = []
        self.effects: list[tuple[str, dict[str, Any]]] = []
        self._notes: list[str] = []  # said before the next view; merged into its message
        self.too_long: list[str] = []  # texts shortened to fit a title (for flows check)
        self.error: str | None = None
        self._redirect: str | None = None

    # --- reading input -------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if self.state == NEW:
            self.say("welcome", name=self._first_name())
            self.enter(MAIN_MENU)
        elif self.state == EXPIRED:
            self._after_expiry()
        elif event.kind == "reaction":
            return
        elif self.state == HANDOFF:
            self._in_handoff(event)
        elif event.kind == "order":
            self._catalog_cart(event)
        elif not self._global_command(event):
            self._answer(event)

    def _answer(self, event: Event) -> None:
        spec, value = self._match(self.flow.state(self.state), event)
        if spec is not None:
            self.context["misses"] = 0
            self.fire(spec.trigger, value, event)
        elif not self._navigate(event.reply_id or self._typed_option(event)):
            self._miss(event)

    def _typed_option(self, event: Event) -> str | None:
        if event.kind != TEXT or not event.text:
            return None
        return self._chosen_option(normalize(event.text))

    def _navigate(self, reply_id: str | None) -> bool:
        """A tap on an older message: navigation and main-menu rows work from anywhere."""
        if not reply_id:
            return False
        targets = {"nav:menu": MAIN_MENU, "nav:cart": "reviewing_cart"}
        target = targets.get(reply_id)
        if target is not None and any(s.name == target for s in self.flow.states):
            self.context["misses"] = 0
            self.enter(target)
            return True
        if reply_id.startswith("menu:"):
            spec, value = self._match(self.flow.state(MAIN_MENU), Event(REPLY, reply_id=reply_id))
            if spec is not None:
                self.state = MAIN_MENU
                self.fire(spec.trigger, value)
                return True
        return False

    def fire(self, trigger: str, value: Any = None, event: Event | None = None) -> None:
        """Fire a flow trigger; on a refused condition, say why and show the state again."""
        machine = machine_for(self.flow)
        before = self.state
        moved = machine.events[trigger].trigger(self, value=value, inbound=event)
        if self._redirect:
            self.state, self._redirect = self._redirect, None
        if self.error:
            self._notes.append(self.error)
            self.error = None
        if moved or self.state != before:
            self.context["page"] = self.context.get("page", 0) if self.state == before else 0
        self.render()

    def render(self) -> None:
        """Show the current state (or leave it at once when its step does not apply)."""
        for _ in range(10):  # skips chain a few steps at most
            state = self.flow.state(self.state)
            if state.skip is not None and self._condition(state.skip.when):
                machine_for(self.flow).events[state.skip.trigger].trigger(
                    self, value=state.skip.value, inbound=None
                )
                continue
            self._show(views.VIEWS[state.view](self))
            return

    def enter(self, state: str) -> None:
        self.state = state
        self.context["page"] = 0
        self.render()

    def _match(self, state: StateSpec, event: Event) -> tuple[InputSpec | None, Any]:
        """Which input this is: a tapped id, a keyword, a parsed value, or a typed option
        (a number or a title from the last list or buttons), in that order."""
        if event.reply_id:
            for spec in state.inputs:
                if spec.reply and _reply_matches(spec.reply, event.reply_id):
                    return spec, _suffix(spec.reply, event.reply_id)
        typed = normalize(event.text) if event.kind == TEXT and event.text else None
        if typed:
            for spec in state.inputs:
                if typed in {normalize(word) for word in spec.keywords}:
                    return spec, None
        for spec in state.inputs:
            if spec.parse is not None:
                value = self._parse(spec, event)
                if value is not None:
                    return spec, value
        chosen = self._chosen_option(typed) if typed else None
        if chosen is not None:
            for spec in state.inputs:
                if spec.reply and _reply_matches(spec.reply, chosen):
                    return spec, _suffix(spec.reply, chosen)
        return None, None

    def _chosen_option(self, typed: str) -> str | None:
        options: list[list[str]] = self.context.get("options", [])
        if typed.isdigit() and 1 <= int(typed) <= len(options):
            return options[int(typed) - 1][0]
        for option_id, title in options:
            if normalize(title) == typed:
                return option_id
        return None

    def _parse(self, spec: InputSpec, event: Event) -> Any:
        text = event.text if event.kind == TEXT else None
        match spec.parse:
            case "location":
                if event.kind == LOCATION:
                    return dict(event.details)
                coordinates = coordinates_in(text or "")
                return (
                    {"latitude": coordinates[0], "longitude": coordinates[1]}
                    if coordinates
                    else None
                )
            case "media":
                return dict(event.details) if event.kind == MEDIA else None
            case "quantity" | "amount" | "number":
                return text.strip() if text and text.strip() else None
            case "text":
                if text and text.strip() and not text.strip().isdigit():
                    return text.strip()[:500]
                return None
        return None

    def _global_command(self, event: Event) -> bool:
        if event.kind != TEXT or not event.text:
            return False
        typed = normalize(event.text)
        if typed in _MENU_WORDS or (typed in _GREETINGS and self.state != MAIN_MENU):
            self.context["misses"] = 0
            self.enter(MAIN_MENU)
            return True
        if typed in _HELP_WORDS:
            self.say("help.body")
            self.render()
            return True
        if typed in _CANCEL_WORDS:
            if cart.count(self.context) and self.state not in _CALM_STATES:
                self.context["return_to"] = self.state
                self.enter("confirming_cancel")
            else:
                self._clear_checkout()
                self.say("cancel.done")
                self.enter(MAIN_MENU)
            return True
        return False

    def _miss(self, event: Event) -> None:
        misses = int(self.context.get("misses", 0)) + 1
        self.context["misses"] = misses
        if misses >= MAX_MISSES:
            self.context["misses"] = 0
            self.context["return_to"] = self.state
            self.enter("offering_agent")
            return
        if event.kind in (TEXT, REPLY):
            self.say("error.unrecognised")
        elif event.kind in (LOCATION, MEDIA):
            self.say("error.unexpected")  # a pin or a photo where none was asked for
        else:
            self.say("error.unsupported")
        self.render()

    def _after_expiry(self) -> None:
        previous_state = str(self.context.get("previous_state", MAIN_MENU))
        previous: dict[str, Any] = dict(self.context.get("previous") or {})
        if previous_state == HANDOFF:
            self.state, self.context = HANDOFF, previous
            return
        self.context = {"cart": previous.get("cart", [])}
        self.say("welcome_back", name=self._first_name())
        if cart.count(self.context):
            self.enter("resuming")
        else:
            self.enter(MAIN_MENU)

    def _in_handoff(self, event: Event) -> None:
        if event.kind == TEXT and event.text and normalize(event.text) in _MENU_WORDS:
            self.effects.append(("close_handoff", {}))
            self.enter(MAIN_MENU)
        # Otherwise a person answers: the bot stays quiet (every message is stored).

    def _catalog_cart(self, event: Event) -> None:
        """A cart sent from the WhatsApp catalog: match retailer ids, go to checkout."""
        catalog = self.facts.catalog
        self.context["cart"] = []
        missing = []
        for item in event.details.get("items", []):
            product = catalog.by_retailer_id(str(item.get("retailer_id")))
            quantity = Decimal(str(item.get("quantity", 0)))
            if product is None or quantity <= 0:
                missing.append(str(item.get("retailer_id")))
                continue
            cart.add(self.context, product, quantity)
        if missing:
            self.say("catalog_cart.missing", count=len(missing))
        self.state = "reviewing_cart"
        if cart.count(self.context):
            self.fire("checkout")
        else:
            self.render()

    # --- speaking ------------------------------------------------------------------------

    def _show(self, messages: list[dict[str, Any]]) -> None:
        """Send a view's messages, with anything said just before folded into the first
        one when it fits (one message instead of two: fewer pings, fewer rate limits)."""
        if self._notes and messages and _prepend(messages[0], "\n\n".join(self._notes)):
            self._notes.clear()
        self.flush()
        self.replies.extend(messages)

    def flush(self) -> None:
        """Send what was said and not yet shown."""
        if self._notes:
            self.replies.append(outbound.text("\n\n".join(self._notes)))
            self._notes.clear()

    def text(self, key: str, **values: Any) -> str:
        template = self.texts[key]
        return template.format(shop=self.shop.name, **values) if ("{" in template) else template

    def say(self, key: str, **values: Any) -> None:
        self._notes.append(self.text(key, **values))

    def offer(self, options: list[tuple[str, str]]) -> None:
        """Remember what was offered, so a typed number or title picks it."""
        self.context["options"] = [[option_id, title] for option_id, title in options]

    def _first_name(self) -> str:
        name = (self.facts.customer.name or "").strip().split(" ")[0]
        return f" {name}" if name else ""

    # --- facts the views and actions share ------------------------------------------------

    def current_product(self) -> Product:
        product = self.facts.catalog.product(int(self.context.get("product_id", 0)))
        if product is None:
            raise LookupError("the chosen product is no longer in the catalog")
        return product

    def zone(self) -> Zone | None:
        raw = self.context.get("zone")
        return Zone.model_validate(raw) if raw else None

    def delivery_fee(self) -> Decimal:
        if self.context.get("fulfillment") != "delivery":
            return Decimal("0")
        zone = self.zone()
        return zone.fee if zone else self.settings.delivery_fee

    def minimum_order(self) -> Decimal:
        zone = self.zone()
        if self.context.get("fulfillment") == "delivery" and zone is not None:
            return max(zone.minimum_order, self.settings.minimum_order)
        return self.settings.minimum_order

    def refills(self) -> int:
        marker = normalize(self.settings.refill_marker or "")
        if not marker:
            return 0
        return int(
            sum(
                line.quantity
                for line in cart.lines(self.context)
                if line.unit == "GARRAFON" and marker in normalize(line.name)
            )
        )

    def deposit(self) -> tuple[int, Decimal]:
        if self.settings.jug_deposit is None:
            return 0, Decimal("0")
        count = max(0, self.refills() - int(self.context.get("empties", 0)))
        return count, self.settings.jug_deposit * count

    def total(self) -> Decimal:
        return cart.subtotal(self.context) + self.delivery_fee() + self.deposit()[1]

    def summary_lines(self) -> list[str]:
        """The cart's lines plus delivery fee and jug deposit, as the customer pays them."""
        lines = cart.summary_lines(self.context)
        fee = self.delivery_fee()
        if fee:
            lines.append(self.text("summary.fee", amount=cart.money(fee)))
        deposit_count, deposit = self.deposit()
        if deposit:
            lines.append(
                self.text("summary.deposit", count=deposit_count, amount=cart.money(deposit))
            )
        return lines

    def describe_fulfillment(self) -> str:
        if self.context.get("fulfillment") == "pickup":
            return self.text("summary.pickup")
        address = self.context.get("address") or {}
        where = address.get("text") or self.text("address.pin")
        slot = self.context.get("slot_title")
        return self.text("summary.delivery", address=where) + (f" · {slot}" if slot else "")

    def describe_payment(self) -> str:
        method = self.context.get("payment_method")
        if method is None:
            return "—"
        text = self.text(f"payment.{method}")
        if method == "cash" and self.context.get("cash_tendered"):
            text += " " + self.text(
                "summary.change", amount=cart.money(Decimal(self.context["cash_tendered"]))
            )
        if method == "transfer" and self.context.get("receipt_media_id"):
            text += " " + self.text("summary.receipt")
        return text

    def is_open(self) -> bool:
        now = self.facts.now.astimezone(ZoneInfo(self.shop.timezone))
        day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
        current = f"{now:%H:%M}"
        ranges = self.shop.business_hours.get(day) or []
        return any(start <= current < end for start, end in ranges)

    # --- conditions named in flow files ----------------------------------------------------

    def _condition(self, name: str) -> bool:
        result = getattr(self, name)(None)
        return bool(result)

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
        raw = str(_value(event) or "")
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

    def _chosen(self, event: EventData | None, options: tuple[str, ...]) -> str:
        """The option picked, or the only one offered when the step was skipped."""
        value = _value(event)
        return str(value) if value else options[0]

    def chose_delivery(self, event: EventData | None) -> bool:
        return self._chosen(event, self.settings.fulfillment) == "delivery"

    def single_fulfillment(self, event: EventData | None) -> bool:
        return len(self.settings.fulfillment) == 1

    def no_saved_addresses(self, event: EventData | None) -> bool:
        return not self.facts.customer.addresses

    def known_address(self, event: EventData | None) -> bool:
        return any(str(a.id) == str(_value(event)) for a in self.facts.customer.addresses)

    def locatable(self, event: EventData | None) -> bool:
        """Zones by postal code need one (or a pin) to tell whether we deliver there."""
        address = self.context.get("address") or {}
        zones = self.settings.delivery_zones
        if not zones or address.get("postal_code") or address.get("latitude") is not None:
            return True
        self.error = self.text("address.need_postal_code")
        return False

    def outside_zones(self, event: EventData | None) -> bool:
        zone = self._zone_for(self.context.get("address") or {})
        self.context["zone"] = zone.model_dump(mode="json") if zone and zone.name else None
        return zone is None

    def always(self, event: EventData | None) -> bool:
        return True

    def has_cart(self, event: EventData | None) -> bool:
        return cart.count(self.context) > 0

    def no_slots(self, event: EventData | None) -> bool:
        return not self.settings.delivery_slots

    def single_payment_method(self, event: EventData | None) -> bool:
        return len(self.settings.payment_methods) == 1

    def paying_cash(self, event: EventData | None) -> bool:
        return self._chosen(event, self.settings.payment_methods) == "cash"

    def paying_transfer(self, event: EventData | None) -> bool:
        return self._chosen(event, self.settings.payment_methods) == "transfer"

    def valid_cash(self, event: EventData | None) -> bool:
        if _value(event) == "exact":
            self.context["cash_tendered"] = str(self.total())
            return True
        amount = parse_decimal(str(_value(event) or ""))
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
        count = parse_decimal(str(_value(event) or ""))
        refills = self.refills()
        if count is None or count < 0 or count != count.to_integral_value() or count > refills:
            self.error = self.text("empties.invalid", refills=refills)
            return False
        self.context["empties"] = int(count)
        return True

    def has_orders(self, event: EventData | None) -> bool:
        return bool(self.facts.orders)

    # --- actions named in flow files -------------------------------------------------------

    def pick_category(self, event: EventData) -> None:
        self.context["category_id"] = int(_value(event))
        self.context["page"] = 0

    def show_all_products(self, event: EventData) -> None:
        self.context.pop("category_id", None)
        self.context["page"] = 0

    def next_page(self, event: EventData) -> None:
        self.context["page"] = int(self.context.get("page", 0)) + 1

    def pick_product(self, event: EventData) -> None:
        product_id = int(_value(event))
        if self.facts.catalog.product(product_id) is None:
            raise LookupError("product not in catalog")
        self.context["product_id"] = product_id

    def add_to_cart(self, event: EventData) -> None:
        cart.add(self.context, self.current_product(), Decimal(self.context.pop("quantity")))
        self.say("cart.added", name=self.current_product().name)

    def remove_item(self, event: EventData) -> None:
        cart.remove(self.context, int(_value(event)))

    def clear_cart(self, event: EventData) -> None:
        self._clear_checkout()
        self.say("cart.cleared")

    def set_fulfillment(self, event: EventData) -> None:
        choice = self._chosen(event, self.settings.fulfillment)
        self.context["fulfillment"] = choice
        if choice == "pickup":
            self.context.pop("address", None)
            self.context.pop("zone", None)

    def use_saved_address(self, event: EventData) -> None:
        saved = next(
            (a for a in self.facts.customer.addresses if str(a.id) == str(_value(event))), None
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
        pin = dict(_value(event))
        label = ", ".join(str(pin[k]) for k in ("name", "address") if pin.get(k)) or None
        self.context["fulfillment"] = "delivery"
        self.context["address"] = {
            "text": label,
            "postal_code": postal_code_in(label or ""),
            "latitude": pin["latitude"],
            "longitude": pin["longitude"],
        }

    def set_address_text(self, event: EventData) -> None:
        text = str(_value(event))
        self.context["fulfillment"] = "delivery"
        self.context["address"] = {"text": text, "postal_code": postal_code_in(text)}

    def set_slot(self, event: EventData) -> None:
        slot = next((s for s in self.settings.delivery_slots if s.id == _value(event)), None)
        self.context["slot"] = slot.id if slot else None
        self.context["slot_title"] = slot.title if slot else None

    def set_payment(self, event: EventData) -> None:
        self.context["payment_method"] = self._chosen(event, self.settings.payment_methods)
        self.context.pop("cash_tendered", None)
        self.context.pop("receipt_media_id", None)

    def set_receipt(self, event: EventData) -> None:
        self.context["receipt_media_id"] = dict(_value(event)).get("media_id")
        self.say("transfer.thanks")

    def set_notes(self, event: EventData) -> None:
        self.context["notes"] = str(_value(event))

    def clear_notes(self, event: EventData) -> None:
        self.context["notes"] = None

    def place_order(self, event: EventData) -> None:
        deposit_count, deposit = self.deposit()
        self.effects.append(
            (
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
        self._clear_checkout()

    def explain_rejection(self, event: EventData) -> None:
        details = dict((event.kwargs.get("inbound") or Event("effect")).details)
        self._notes.extend(str(problem) for problem in details.get("problems", []))
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
        self.effects.append(("open_handoff", {"reason": self.context.get("return_to")}))

    def pick_order(self, event: EventData) -> None:
        self.context["order_id"] = int(_value(event))

    def latest_order(self, event: EventData) -> None:
        self.context.pop("order_id", None)

    def remember_state(self, event: EventData) -> None:
        self.context["return_to"] = self.state

    def go_back(self, event: EventData) -> None:
        self._redirect = str(self.context.pop("return_to", MAIN_MENU))

    def confirm_cancel(self, event: EventData) -> None:
        self.context.pop("return_to", None)
        self._clear_checkout()
        self.say("cancel.done")

    def restart(self, event: EventData) -> None:
        self._clear_checkout()

    def _clear_checkout(self) -> None:
        options = self.context.get("options", [])
        self.context.clear()
        self.context["options"] = options

    # --- zones ----------------------------------------------------------------------------

    def _zone_for(self, address: dict[str, Any]) -> Zone | None:
        zones = self.settings.delivery_zones
        if not zones:
            return Zone(name="", fee=self.settings.delivery_fee)
        postal = address.get("postal_code")
        for zone in zones:
            if postal and postal in zone.postal_codes:
                return zone
        lat, lng = address.get("latitude"), address.get("longitude")
        origin = self.settings.shop_location
        if lat is not None and lng is not None and origin is not None:
            distance = _km(origin.latitude, origin.longitude, float(lat), float(lng))
            for zone in zones:
                if zone.radius_km is not None and distance <= zone.radius_km:
                    return zone
        return None


_BODY_LIMITS = {"text": 4096, "interactive": 1024}


def _prepend(message: dict[str, Any], note: str) -> bool:
    """Put `note` above the message's body if the result stays within WhatsApp's limit."""
    kind = message.get("type")
    holder = message.get(kind, {}) if isinstance(kind, str) else {}
    body = holder.get("body") if kind == "text" else holder.get("body", {}).get("text")
    if not isinstance(body, str):
        return False
    combined = f"{note}\n\n{body}"
    if len(combined) > _BODY_LIMITS.get(str(kind), 0):
        return False
    if kind == "text":
        holder["body"] = combined
    else:
        holder["body"]["text"] = combined
    return True


def _value(event: EventData | None) -> Any:
    return event.kwargs.get("value") if event is not None else None


def _reply_matches(pattern: str, reply_id: str) -> bool:
    if pattern.endswith("*"):
        return reply_id.startswith(pattern[:-1]) and len(reply_id) > len(pattern) - 1
    return pattern == reply_id


def _suffix(pattern: str, reply_id: str) -> str | None:
    return reply_id[len(pattern) - 1 :] if pattern.endswith("*") else None


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


__all__ = ["Conversation", "datetime", "machine_for"]
