"""What a shop's admin receives when an order arrives: pure builders, no I/O.

Two forms of the same news: an interactive message with three reply buttons (inside the
admin's 24-hour window) and the `nuevo_pedido` template with the order as its parameters
(outside it). Both carry the same button ids, `adm:order:<id>:<status>`, which the admin
conversation reads back from a tapped button or a template's quick reply.

Every text comes from `flows/_texts.yaml` (`notify.*`), so a shop may reword it. An order
of any size fits: items are left out from the end ("… y 3 producto(s) más") and the
customer's free text is shortened until the message is within WhatsApp's limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import phonenumbers

from chatcentral.conversation.cart import Line, money, quantity_label
from chatcentral.notifications.templates import TemplateSpec
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import Button

# What the buttons do, in order: the status each one moves the order to.
ACTIONS = (
    ("confirmado", "notify.confirm"),
    ("en_camino", "notify.on_the_way"),
    ("cancelado", "notify.cancel"),
)
# Free text (the customer's name, address and notes) is shortened to the first of these
# that lets the message fit.
_FREE_TEXT_LIMITS = (300, 120, 50)


@dataclass(frozen=True)
class OrderNotice:
    """One placed order, as its admins are told about it."""

    order_id: int
    customer_name: str | None
    customer_phone: str | None  # canonical E.164 ("+52…"); None when WhatsApp hides it
    lines: tuple[Line, ...]
    delivery_fee: Decimal
    deposit: Decimal
    total: Decimal
    fulfillment: str  # "delivery" or "pickup"
    address_text: str | None
    latitude: float | None
    longitude: float | None
    slot: str | None
    payment_method: str | None  # "cash", "transfer", "card"
    cash_tendered: Decimal | None
    receipt_received: bool
    notes: str | None


def button_id(order_id: int, status: str) -> str:
    return f"adm:order:{order_id}:{status}"


def payloads(order_id: int) -> list[str]:
    """The ids of the three buttons (also the template's quick-reply payloads)."""
    return [button_id(order_id, status) for status, _ in ACTIONS]


def interactive(notice: OrderNotice, texts: Mapping[str, str]) -> dict[str, Any]:
    """The reply-buttons message: the order in full (within 1024 characters)."""
    say = _Texts(texts)
    buttons = [
        Button(button_id(notice.order_id, status), _clip(say(key), outbound.BUTTON_TITLE_MAX))
        for status, key in ACTIONS
    ]
    body = ""
    for limit, shown in _attempts(len(notice.lines)):
        body = say(
            "notify.body",
            number=notice.order_id,
            customer=_customer(notice, say, limit, link_on_new_line=True),
            lines="\n".join(_item_lines(notice, say, shown)),
            total=money(notice.total),
            fulfillment=_fulfillment(notice, say, limit),
            payment=_payment(notice, say),
            notes=_clip(notice.notes, limit) if notice.notes else say("notify.no_notes"),
        )
        if len(body) <= outbound.INTERACTIVE_BODY_MAX:
            break
    # Only a shop's own, very long wording gets here: cut it rather than stay silent.
    return outbound.reply_buttons(_clip(body, outbound.INTERACTIVE_BODY_MAX), buttons)


def template(notice: OrderNotice, texts: Mapping[str, str], spec: TemplateSpec) -> dict[str, Any]:
    """The template message with the order as its seven one-line parameters."""
    say = _Texts(texts)
    params: list[str] = []
    for limit, shown in _attempts(len(notice.lines)):
        params = [
            str(notice.order_id),
            _customer(notice, say, limit, link_on_new_line=False),
            "; ".join(_item_lines(notice, say, shown, compact=True)),
            money(notice.total),
            _fulfillment(notice, say, limit),
            _payment(notice, say),
            _clip(notice.notes, limit) if notice.notes else say("notify.no_notes"),
        ]
        params = [outbound.template_param(p) or "—" for p in params]
        if len(spec.render(params)) <= outbound.TEMPLATE_BODY_MAX:
            break
    return spec.message(params, payloads(notice.order_id))


# --- Parts ----------------------------------------------------------------------------------


class _Texts:
    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = texts

    def __call__(self, key: str, **values: Any) -> str:
        return self._texts[key].format(**values) if values else self._texts[key]


def _attempts(items: int) -> Iterator[tuple[int, int]]:
    """(free-text limit, items shown), from the fullest message to the barest."""
    for limit in _FREE_TEXT_LIMITS:
        for shown in range(items, -1, -1):
            yield limit, shown


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _customer(notice: OrderNotice, say: _Texts, limit: int, *, link_on_new_line: bool) -> str:
    name = _clip(notice.customer_name.strip(), limit) if notice.customer_name else ""
    name = name or say("notify.no_name")
    if notice.customer_phone is None:
        return f"{name} · {say('notify.no_phone')}"
    try:
        shown = phonenumbers.format_number(
            phonenumbers.parse(notice.customer_phone),
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        )
    except phonenumbers.NumberParseException:
        shown = notice.customer_phone
    link = "https://wa.me/" + notice.customer_phone.removeprefix("+")
    return f"{name} · {shown}{chr(10) if link_on_new_line else ' · '}{link}"


def _item_lines(
    notice: OrderNotice, say: _Texts, shown: int, *, compact: bool = False
) -> list[str]:
    describe: Callable[[Line], str] = (
        (lambda line: f"{quantity_label(line.quantity, line.unit)} {line.name} {money(line.total)}")
        if compact
        else (lambda line: f"• {line.describe()}")
    )
    lines = [describe(line) for line in notice.lines[:shown]]
    hidden = len(notice.lines) - shown
    if hidden:
        lines.append(say("notify.more", count=hidden))
    for amount, key in ((notice.delivery_fee, "notify.fee"), (notice.deposit, "notify.deposit")):
        if amount:
            lines.append(say(key, amount=money(amount)))
    if compact:
        lines = [line.removeprefix("• ") for line in lines]
    return lines


def _fulfillment(notice: OrderNotice, say: _Texts, limit: int) -> str:
    if notice.fulfillment != "delivery":
        parts = [say("notify.pickup")]
    else:
        address = notice.address_text.strip() if notice.address_text else ""
        parts = [say("notify.delivery", address=_clip(address, limit) or say("notify.pin"))]
        if notice.latitude is not None and notice.longitude is not None:
            parts.append(say("notify.map", address=maps_link(notice.latitude, notice.longitude)))
    if notice.slot:
        parts.append(say("notify.slot", hours=notice.slot))
    return "\n".join(parts)


def maps_link(latitude: float, longitude: float) -> str:
    """A Google Maps link that opens the customer's pin on any phone."""
    return f"https://www.google.com/maps/search/?api=1&query={latitude:.6f},{longitude:.6f}"


def _payment(notice: OrderNotice, say: _Texts) -> str:
    match notice.payment_method:
        case "cash":
            tendered = notice.cash_tendered
            if tendered is None or tendered <= notice.total:
                return say("notify.cash_exact")
            change = say("notify.cash_change", amount=money(tendered - notice.total))
            return f"{say('notify.cash', amount=money(tendered))}, {change}"
        case "transfer":
            return say(
                "notify.transfer_received" if notice.receipt_received else "notify.transfer_pending"
            )
        case "card":
            return say("notify.card")
    return say("notify.payment_unknown")
