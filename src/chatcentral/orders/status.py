"""Moving an order along: the one function every status change goes through (WhatsApp
commands today, the panel and the API later).

Allowed: forward only along pendiente → confirmado → en preparación → en camino →
entregado (steps may be skipped), and cancelado while the order has not left (until en
camino). The order row is locked, so of two admins acting at once one wins and the other
is told the order's current status. Each change writes `order_history` (who, when, a
note) and queues a message telling the customer, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.conversation.staff import CANCELLED, ON_THE_WAY
from chatcentral.models.tenant import Customer, Order, OrderHistory, OrderStatus
from chatcentral.outbox import enqueue
from chatcentral.outgoing import events
from chatcentral.whatsapp import outbound

# Forward order of the statuses an order goes through; cancelado is off to the side.
PROGRESS = ("pendiente", "confirmado", "en_preparacion", "en_camino", "entregado")

# Lock the order row alone: with a join, a concurrent change of its status would make
# PostgreSQL's recheck drop the row, and the loser would be told "not found".
_LOCK_ORDER = (
    select(Order.id).where(Order.id == bindparam("order_id", type_=BigInteger)).with_for_update()
)
_ORDER = (
    select(
        Order.id,
        Order.customer_id,
        Order.status_id,
        OrderStatus.code,
        OrderStatus.name,
        Customer.wa_id,
        Customer.bsuid,
    )
    .join(OrderStatus, OrderStatus.id == Order.status_id)
    .join(Customer, Customer.id == Order.customer_id)
    .where(Order.id == bindparam("order_id", type_=BigInteger))
)
_STATUS_BY_CODE = select(OrderStatus.id, OrderStatus.name).where(
    OrderStatus.code == bindparam("code", type_=Text)
)


@dataclass(frozen=True)
class StatusChanged:
    order_id: int
    previous: str  # display names, e.g. "Pendiente"
    current: str


@dataclass(frozen=True)
class StatusRefused:
    """Nothing changed. `reason`: not_found, unknown_status, same, backwards, finished,
    too_late_to_cancel. `current` is the order's status now (None when not found)."""

    order_id: int
    reason: str
    current: str | None = None


def allowed(current: str, wanted: str) -> str | None:
    """None when `current → wanted` is allowed; otherwise why not."""
    if current == wanted:
        return "same"
    if current in ("entregado", CANCELLED):
        return "finished"
    if wanted == CANCELLED:
        return (
            None if PROGRESS.index(current) < PROGRESS.index(ON_THE_WAY) else "too_late_to_cancel"
        )
    if PROGRESS.index(wanted) < PROGRESS.index(current):
        return "backwards"
    return None


async def change_status(
    conn: AsyncConnection,
    shop: Shop,
    order_id: int,
    wanted: str,
    *,
    actor: str,
    note: str | None = None,
) -> StatusChanged | StatusRefused:
    """Move order `order_id` of this shop (the connection is bound to its schema) to
    status code `wanted`, in the caller's transaction."""
    if wanted != CANCELLED and wanted not in PROGRESS:
        return StatusRefused(order_id, "unknown_status")
    if (await conn.execute(_LOCK_ORDER, {"order_id": order_id})).first() is None:
        return StatusRefused(order_id, "not_found")
    order = (await conn.execute(_ORDER, {"order_id": order_id})).one()
    refused = allowed(order.code, wanted)
    if refused is not None:
        return StatusRefused(order_id, refused, order.name)
    target = (await conn.execute(_STATUS_BY_CODE, {"code": wanted})).one()
    await conn.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(status_id=target.id, status_changed_at=func.now())
    )
    await conn.execute(
        insert(OrderHistory).values(
            order_id=order_id,
            from_status_id=order.status_id,
            status_id=target.id,
            changed_by=actor,
            note=note,
        )
    )
    customer = _Customer(order.customer_id, order.wa_id, order.bsuid)
    await _tell_customer(conn, shop, order_id, customer, wanted, note)
    change = {"order_id": order_id, "from": order.code, "to": wanted, "by": actor, "note": note}
    await events.emit(conn, shop, events.ORDER_STATUS_CHANGED, change)
    return StatusChanged(order_id, order.name, target.name)


@dataclass(frozen=True)
class _Customer:
    id: int
    wa_id: str | None
    bsuid: str | None


async def _tell_customer(
    conn: AsyncConnection,
    shop: Shop,
    order_id: int,
    customer: _Customer,
    wanted: str,
    note: str | None,
) -> None:
    _, texts = effective(shipped_flow(shop.flow), shop.settings)
    text = texts[f"order_status.{wanted}"].format(number=order_id, shop=shop.name)
    if wanted == CANCELLED and note:
        text += "\n" + texts["order_status.reason"].format(reason=note)
    reply = outbound.text(text)
    if customer.wa_id:
        recipient, payload = customer.wa_id, outbound.envelope(reply, to="+" + customer.wa_id)
    else:
        assert customer.bsuid is not None  # every customer has one or the other
        recipient, payload = customer.bsuid, outbound.envelope(reply, recipient=customer.bsuid)
    await enqueue.queue_message(
        conn, shop.id, "message", recipient, reply, payload, customer_id=customer.id
    )
