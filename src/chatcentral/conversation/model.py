"""What one conversation knows and can say while a message is handled.

The base of the machine's model: the state, the context (cart, address, payment…), the
facts, the texts, and the arithmetic every view, condition and action shares (fees, zones,
deposits, totals). What is said with `say` is folded into the next view's message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from transitions import EventData

from chatcentral.conversation import cart
from chatcentral.conversation.facts import Facts, Product
from chatcentral.conversation.flow import FlowSpec, Settings, Zone
from chatcentral.conversation.shop import Shop
from chatcentral.conversation.text_input import (
    normalize,
)
from chatcentral.whatsapp import outbound


@dataclass(frozen=True)
class Effect:
    """Something the conversation service must do inside the message's transaction."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


# Keys of a shop's business hours, in `datetime.weekday()` order.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAIN_MENU = "main_menu"
HANDOFF = "handoff"


class ConversationState:
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
        self.effects: list[Effect] = []
        self.notes: list[str] = []  # said before the next view; merged into its message
        self.too_long: list[str] = []  # texts shortened to fit a title (for flows check)
        self.error: str | None = None
        self.redirect: str | None = None

    # --- speaking ------------------------------------------------------------------------

    def show(self, messages: list[dict[str, Any]]) -> None:
        """Send a view's messages, with anything said just before folded into the first
        one when it fits (one message instead of two: fewer pings, fewer rate limits)."""
        if self.notes and messages and _prepend(messages[0], "\n\n".join(self.notes)):
            self.notes.clear()
        self.flush()
        self.replies.extend(messages)

    def flush(self) -> None:
        """Send what was said and not yet shown."""
        if self.notes:
            self.replies.append(outbound.text("\n\n".join(self.notes)))
            self.notes.clear()

    def text(self, key: str, **values: Any) -> str:
        template = self.texts[key]
        return template.format(shop=self.shop.name, **values) if ("{" in template) else template

    def say(self, key: str, **values: Any) -> None:
        self.notes.append(self.text(key, **values))

    def offer(self, options: list[tuple[str, str]]) -> None:
        """Remember what was offered, so a typed number or title picks it."""
        self.context["options"] = [[option_id, title] for option_id, title in options]

    def first_name(self) -> str:
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
        day = WEEKDAYS[now.weekday()]
        current = f"{now:%H:%M}"
        ranges = self.shop.business_hours.get(day) or []
        return any(start <= current < end for start, end in ranges)

    def chosen(self, event: EventData | None, options: tuple[str, ...]) -> str:
        """The option picked, or the only one offered when the step was skipped."""
        value = value_of(event)
        return str(value) if value else options[0]

    def clear_checkout(self) -> None:
        options = self.context.get("options", [])
        self.context.clear()
        self.context["options"] = options

    # --- zones ----------------------------------------------------------------------------

    def zone_for(self, address: dict[str, Any]) -> Zone | None:
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
            distance = km_between(origin.latitude, origin.longitude, float(lat), float(lng))
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


def value_of(event: EventData | None) -> Any:
    return event.kwargs.get("value") if event is not None else None


def km_between(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))
