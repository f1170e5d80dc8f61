"""Reading orders for the shop's staff: the pending ones, newest first, and one in full.
The connection is bound to the shop's schema, so another shop's order is never found."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.staff_views import OrderBrief, OrderDetail, OrderLineBrief
from chatcentral.models.tenant import Customer, Message, Order, OrderItem, OrderStatus

PENDING_MAX = 200  # a list longer than this is not read on a phone

_customer_name = func.coalesce(Customer.name, Customer.wa_id, "Cliente")
_PENDING = (
    select(Order.id, _customer_name, Order.total, OrderStatus.name, Order.created_at)
    .join(OrderStatus, OrderStatus.id == Order.status_id)
    .join(Customer, Customer.id == Order.customer_id)
    .where(~OrderStatus.is_final)
    .order_by(Order.id.desc())
    .limit(PENDING_MAX)
)
_ORDER = (
    select(
        Order.id,
        _customer_name.label("customer"),
        Customer.wa_id,
        OrderStatus.code,
        OrderStatus.name,
        Order.total,
        Order.fulfillment,
        Order.address_text,
        Order.latitude,
        Order.longitude,
        Order.delivery_slot,
        Order.payment_method,
        Order.cash_tendered,
        Order.payment_proof_media_id,
        Order.notes,
        Order.created_at,
    )
    .join(OrderStatus, OrderStatus.id == Order.status_id)
    .join(Customer, Customer.id == Order.customer_id)
    .where(Order.id == bindparam("order_id", type_=BigInteger))
)
_LINES = (
    select(OrderItem.product_name, OrderItem.unit, OrderItem.quantity, OrderItem.line_total)
    .where(OrderItem.order_id == bindparam("order_id", type_=BigInteger))
    .order_by(OrderItem.id)
)
# The customer's message that carried an order's receipt: the order keeps its media id.
_RECEIPT = (
    select(Message.id, Message.media_state)
    .join(Order, Order.customer_id == Message.customer_id)
    .where(Order.id == bindparam("order_id", type_=BigInteger))
    .where(Message.direction == "in")
    .where(Message.body[Message.type]["id"].astext == Order.payment_proof_media_id)
    .order_by(Message.id.desc())
    .limit(1)
)
_PAYMENT = {"cash": "Efectivo", "transfer": "Transferencia", "card": "Tarjeta al entregar"}


async def pending_orders(conn: AsyncConnection) -> list[OrderBrief]:
    return [OrderBrief(*row) for row in (await conn.execute(_PENDING)).all()]


async def order_detail(conn: AsyncConnection, order_id: int) -> OrderDetail | None:
    row = (await conn.execute(_ORDER, {"order_id": order_id})).first()
    if row is None:
        return None
    lines = tuple(
        OrderLineBrief(*line) for line in (await conn.execute(_LINES, {"order_id": order_id})).all()
    )
    address = row.address_text
    if row.latitude is not None and row.longitude is not None:
        pin = f"maps.google.com/?q={row.latitude},{row.longitude}"
        address = f"{address} ({pin})" if address else pin
    payment = _PAYMENT.get(row.payment_method or "", row.payment_method)
    if row.payment_method == "cash" and row.cash_tendered is not None:
        payment = f"{payment} (paga con ${row.cash_tendered:,.2f})"
    if row.payment_method == "transfer":
        receipt = "comprobante recibido" if row.payment_proof_media_id else "sin comprobante"
        payment = f"{payment} ({receipt})"
    return OrderDetail(
        id=row.id,
        customer=row.customer,
        phone=row.wa_id,
        status_code=row.code,
        status=row.name,
        total=row.total,
        lines=lines,
        fulfillment=row.fulfillment,
        address=address,
        slot=row.delivery_slot,
        payment=payment,
        notes=row.notes,
        created_at=row.created_at,
    )


@dataclass(frozen=True)
class Receipt:
    """The message that carried an order's transfer receipt, and whether its media is kept
    yet (pending, stored or failed)."""

    message_id: int
    media_state: str | None


async def receipt_of(conn: AsyncConnection, order_id: int) -> Receipt | None:
    """The receipt the customer sent for order `order_id`, if any."""
    row = (await conn.execute(_RECEIPT, {"order_id": order_id})).first()
    return Receipt(int(row.id), row.media_state) if row is not None else None
