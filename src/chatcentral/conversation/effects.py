"""What the engine asks the world to do, and what the world answers, as typed values.

An action appends an effect; the conversation service applies it inside the message's
transaction (`inbound/effects.py`) and, when the effect has an outcome the customer must
hear about, hands it back to the engine, which fires the outcome's trigger
(`OUTCOME_TRIGGERS`) from the state it is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chatcentral.conversation.cart import Line
from chatcentral.conversation.context import Address
from chatcentral.conversation.events import Event


@dataclass(frozen=True)
class PlaceOrder:
    """The customer confirmed: write the order if nothing changed since they chose."""

    lines: tuple[Line, ...]
    fulfillment: str
    address: Address | None
    slot: str | None
    payment_method: str | None
    cash_tendered: Decimal | None
    receipt_media_id: str | None
    notes: str | None
    delivery_fee: Decimal
    deposit: Decimal
    empties: int
    jugs_delivered: int
    minimum_order: Decimal


@dataclass(frozen=True)
class OpenHandoff:
    reason: str | None


@dataclass(frozen=True)
class CloseHandoff:
    pass


@dataclass(frozen=True)
class RelayToStaff:
    """A customer in a handoff wrote: forward what they sent (text, pin, photo…) to the
    shop's staff, as it is, under their name and the handoff's number."""

    event: Event


@dataclass(frozen=True)
class SetReminders:
    """The customer turned refill reminders off ("no más recordatorios") or back on."""

    opt_out: bool


Effect = PlaceOrder | OpenHandoff | CloseHandoff | RelayToStaff | SetReminders


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int
    total: Decimal


@dataclass(frozen=True)
class Problem:
    """Something to tell the customer: a text key and the values it is filled with."""

    text: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Adjustment:
    """How a cart line must change to match the shop (quantity 0 removes it)."""

    product_id: int
    quantity: Decimal
    price: Decimal | None = None


@dataclass(frozen=True)
class OrderRejected:
    problems: tuple[Problem, ...]
    adjust: tuple[Adjustment, ...]


Outcome = OrderPlaced | OrderRejected

# The trigger each outcome fires; a flow that places orders has transitions for both.
OUTCOME_TRIGGERS: dict[type[OrderPlaced | OrderRejected], str] = {
    OrderPlaced: "order_placed",
    OrderRejected: "order_rejected",
}
