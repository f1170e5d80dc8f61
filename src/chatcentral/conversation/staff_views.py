"""What a shop's admin reads on WhatsApp: the admin menu, pending orders, one order with
its status buttons, and the answer to each command. Pure: it takes the data and the
shop's texts, and builds Cloud API messages within WhatsApp's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chatcentral.conversation.cart import money, quantity_label
from chatcentral.conversation.staff import CANCELLED, CONFIRMED, DELIVERED, ON_THE_WAY, PREPARING
from chatcentral.conversation.views import clip
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import Button, Row, Section

Message = dict[str, Any]
Texts = Mapping[str, str]
PER_PAGE = outbound.LIST_ROWS_MAX - 1  # one row left for "Ver más"

# The buttons an order shows in each status: the next steps an admin takes most.
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    "pendiente": (CONFIRMED, ON_THE_WAY, CANCELLED),
    CONFIRMED: (PREPARING, ON_THE_WAY, CANCELLED),
    PREPARING: (ON_THE_WAY, CANCELLED),
    ON_THE_WAY: (DELIVERED,),
}


@dataclass(frozen=True)
class OrderBrief:
    id: int
    customer: str
    total: Decimal
    status: str  # display name
    created_at: datetime


@dataclass(frozen=True)
class OrderLineBrief:
    name: str
    unit: str
    quantity: Decimal
    total: Decimal


@dataclass(frozen=True)
class OrderDetail:
    id: int
    customer: str
    phone: str | None  # canonical digits, for a wa.me link
    status_code: str
    status: str
    total: Decimal
    lines: tuple[OrderLineBrief, ...]
    fulfillment: str
    address: str | None
    slot: str | None
    payment: str | None
    notes: str | None
    created_at: datetime


def menu(texts: Texts, undelivered: int = 0) -> Message:
    body = texts["staff.menu.body"]
    if undelivered:
        body = texts["staff.undelivered"].format(count=undelivered) + "\n\n" + body
    rows = [
        Row("adm:orders", clip(texts["staff.menu.orders"], outbound.ROW_TITLE_MAX)),
        Row("adm:handoffs", clip(texts["staff.menu.handoffs"], outbound.ROW_TITLE_MAX)),
        Row("adm:customer", clip(texts["staff.menu.customer"], outbound.ROW_TITLE_MAX)),
        Row("adm:help", clip(texts["staff.menu.help"], outbound.ROW_TITLE_MAX)),
    ]
    button = clip(texts["staff.menu.button"], outbound.LIST_BUTTON_MAX)
    return outbound.list_message(clip(body, outbound.LIST_BODY_MAX), button, [Section(None, rows)])


def orders_list(texts: Texts, orders: list[OrderBrief], page: int, tz: Any) -> Message:
    """Pending orders, newest first, a page at a time."""
    if not orders:
        return outbound.text(texts["staff.orders.none"])
    last = max(0, (len(orders) - 1) // PER_PAGE)
    page = min(max(page, 0), last)
    shown = orders[page * PER_PAGE : (page + 1) * PER_PAGE]
    rows = [
        Row(
            f"adm:order:{order.id}",
            clip(f"#{order.id} · {money(order.total)}", outbound.ROW_TITLE_MAX),
            clip(_brief(order, tz), outbound.ROW_DESCRIPTION_MAX),
        )
        for order in shown
    ]
    if page < last:
        rows.append(Row(f"adm:orders:{page + 1}", clip(texts["more"], outbound.ROW_TITLE_MAX)))
    body = texts["staff.orders.body"].format(count=len(orders), page=page + 1, pages=last + 1)
    button = clip(texts["staff.orders.button"], outbound.LIST_BUTTON_MAX)
    return outbound.list_message(clip(body, outbound.LIST_BODY_MAX), button, [Section(None, rows)])


def _brief(order: OrderBrief, tz: Any) -> str:
    return f"{order.customer} · {order.status} · {order.created_at.astimezone(tz):%d/%m %H:%M}"


def order_detail(texts: Texts, order: OrderDetail, tz: Any) -> Message:
    """One order with what the shop needs to act on it and its next steps as buttons."""
    lines = "\n".join(
        f"• {quantity_label(line.quantity, line.unit)} {line.name} — {money(line.total)}"
        for line in order.lines
    )
    where = texts["staff.order.pickup"]
    if order.fulfillment == "delivery":
        where = texts["staff.order.delivery"].format(address=order.address or "—")
        if order.slot:
            where += f" · {order.slot}"
    contact = order.customer + (f" · wa.me/{order.phone}" if order.phone else "")
    body = texts["staff.order.body"].format(
        number=order.id,
        date=f"{order.created_at.astimezone(tz):%d/%m %H:%M}",
        customer=contact,
        lines=lines,
        total=money(order.total),
        fulfillment=where,
        payment=order.payment or "—",
        notes=order.notes or "—",
        status=order.status,
    )
    steps = NEXT_STEPS.get(order.status_code, ())
    body = clip(body, outbound.INTERACTIVE_BODY_MAX if steps else outbound.TEXT_BODY_MAX)
    if not steps:
        return outbound.text(body)
    buttons = [
        Button(
            f"adm:order:{order.id}:{step}",
            clip(texts[f"staff.step.{step}"], outbound.BUTTON_TITLE_MAX),
        )
        for step in steps
    ]
    return outbound.reply_buttons(body, buttons)


def status_changed(texts: Texts, order_id: int, status: str) -> Message:
    return outbound.text(texts["staff.changed"].format(number=order_id, status=status))


def status_refused(texts: Texts, order_id: int, reason: str, current: str | None) -> Message:
    return outbound.text(
        texts[f"staff.refused.{reason}"].format(number=order_id, status=current or "—")
    )


def text(texts: Texts, key: str, **values: Any) -> Message:
    return outbound.text(texts[key].format(**values) if values else texts[key])
