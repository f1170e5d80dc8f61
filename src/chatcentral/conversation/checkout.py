"""Checkout arithmetic every view, condition and action shares: the delivery zone of an
address, its fee and minimum, jugs and their deposit, the total, and how the order reads
in a summary. Pure: it reads the context, the settings and the facts."""

from __future__ import annotations

import math
from decimal import Decimal

from chatcentral.conversation import cart
from chatcentral.conversation.context import Address
from chatcentral.conversation.flow import Zone
from chatcentral.conversation.model import ConversationState
from chatcentral.conversation.text_input import normalize


class Checkout(ConversationState):
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

    def zone_for(self, address: Address) -> Zone | None:
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


def km_between(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))
