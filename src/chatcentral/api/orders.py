"""Orders: the list (status and date filters, cursor pages), one order with its items and
status history, and the status change. The change goes through `orders/status.py`
`change_status`, the function the admins' WhatsApp commands use: the same transitions
are allowed, the same history is written and the customer is told the same way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from chatcentral.api import pages
from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.api.fields import Id, Note
from chatcentral.api.problems import conflict, not_found
from chatcentral.media.staff_links import media_link
from chatcentral.models.tenant import (
    Customer,
    Order,
    OrderHistory,
    OrderItem,
    OrderStatus,
)
from chatcentral.orders.queries import receipt_of
from chatcentral.orders.status import StatusRefused, change_status

StatusCode = Literal[
    "pendiente", "confirmado", "en_preparacion", "en_camino", "entregado", "cancelado"
]


class CustomerRef(BaseModel):
    id: int
    name: str | None
    phone: str | None = Field(description="WhatsApp number, digits only (null for BSUID-only)")


class OrderSummary(BaseModel):
    id: int
    status: StatusCode
    status_name: str
    customer: CustomerRef
    fulfillment: Literal["delivery", "pickup"]
    total: Decimal
    currency: str
    created_at: datetime
    status_changed_at: datetime


class OrderLine(BaseModel):
    product_id: int | None
    product_name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal


class HistoryEntry(BaseModel):
    from_status: StatusCode | None
    status: StatusCode
    changed_by: str = Field(description="customer, admin:+<phone> or api:<key prefix>")
    note: str | None
    changed_at: datetime


class ReceiptLink(BaseModel):
    state: Literal["pending", "stored", "failed"] | None = Field(
        description="the download's state; null: the message is not one we keep"
    )
    url: str | None = Field(description="a GET link, valid for minutes, once stored")


class OrderDetail(OrderSummary):
    subtotal: Decimal
    delivery_fee: Decimal
    deposit: Decimal
    address: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    delivery_slot: str | None
    payment_method: str | None
    cash_tendered: Decimal | None
    payment_proof_received: bool
    payment_proof: ReceiptLink | None = Field(
        default=None,
        description="the transfer receipt the customer sent: its state and, once kept, a "
        "short-lived link to it",
    )
    notes: str | None
    items: list[OrderLine]
    history: list[HistoryEntry]


class OrderPage(pages.Page[OrderSummary]):
    pass


class OrderQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[StatusCode] | None = Field(default=None, description="any of these statuses")
    created_from: AwareDatetime | None = Field(default=None, description="created at or after")
    created_to: AwareDatetime | None = Field(default=None, description="created before")
    customer_id: Id | None = None
    cursor: pages.Cursor | None = None
    limit: pages.Limit = pages.PAGE_DEFAULT


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: StatusCode
    note: Note | None = Field(
        default=None, description="why (told to the customer when cancelling)"
    )


_SUMMARY = (
    select(
        Order.id,
        OrderStatus.code,
        OrderStatus.name,
        Customer.id.label("customer_id"),
        Customer.name.label("customer_name"),
        Customer.wa_id,
        Order.fulfillment,
        Order.total,
        Order.currency,
        Order.created_at,
        Order.status_changed_at,
    )
    .join(OrderStatus, OrderStatus.id == Order.status_id)
    .join(Customer, Customer.id == Order.customer_id)
)
_DETAIL = _SUMMARY.add_columns(
    Order.subtotal,
    Order.delivery_fee,
    Order.deposit,
    Order.address_text,
    Order.latitude,
    Order.longitude,
    Order.delivery_slot,
    Order.payment_method,
    Order.cash_tendered,
    Order.payment_proof_media_id,
    Order.notes,
)
_FROM = aliased(OrderStatus)
_TO = aliased(OrderStatus)


def _summary_fields(r: Any) -> dict[str, object]:
    return {
        "id": r.id,
        "status": r.code,
        "status_name": r.name,
        "customer": CustomerRef(
            id=r.customer_id,
            name=r.customer_name,
            phone=r.wa_id,
        ),
        "fulfillment": r.fulfillment,
        "total": r.total,
        "currency": r.currency,
        "created_at": r.created_at,
        "status_changed_at": r.status_changed_at,
    }


async def summaries(
    conn: AsyncConnection, condition: ColumnElement[bool], *, limit: int
) -> list[OrderSummary]:
    """Orders matching `condition`, newest first."""
    query = _SUMMARY.where(condition).order_by(Order.id.desc()).limit(limit)
    rows = (await conn.execute(query)).all()
    return [OrderSummary.model_validate(_summary_fields(row)) for row in rows]


async def list_orders(call: Call) -> OrderPage:
    """Orders newest first, filtered, a page at a time."""
    q = call.query(OrderQuery)
    conditions: list[ColumnElement[bool]] = []
    if q.status:
        conditions.append(OrderStatus.code.in_(q.status))
    if q.created_from is not None:
        conditions.append(Order.created_at >= q.created_from)
    if q.created_to is not None:
        conditions.append(Order.created_at < q.created_to)
    if q.customer_id is not None:
        conditions.append(Order.customer_id == q.customer_id)
    if q.cursor is not None:
        conditions.append(Order.id < pages.decode(q.cursor))
    items = await summaries(call.conn, and_(True, *conditions), limit=q.limit + 1)
    shown, cursor = pages.page(items, [item.id for item in items], q.limit)
    return OrderPage(items=shown, next_cursor=cursor)


async def read_order(conn: AsyncConnection, order_id: int) -> OrderDetail | None:
    row = (await conn.execute(_DETAIL.where(Order.id == order_id))).first()
    if row is None:
        return None
    lines = (
        await conn.execute(
            select(
                OrderItem.product_id,
                OrderItem.product_name,
                OrderItem.unit,
                OrderItem.quantity,
                OrderItem.unit_price,
                OrderItem.line_total,
            )
            .where(OrderItem.order_id == order_id)
            .order_by(OrderItem.id)
        )
    ).all()
    history = (
        await conn.execute(
            select(
                _FROM.code.label("from_status"),
                _TO.code.label("status"),
                OrderHistory.changed_by,
                OrderHistory.note,
                OrderHistory.changed_at,
            )
            .join(_TO, _TO.id == OrderHistory.status_id)
            .outerjoin(_FROM, _FROM.id == OrderHistory.from_status_id)
            .where(OrderHistory.order_id == order_id)
            .order_by(OrderHistory.id)
        )
    ).all()
    return OrderDetail.model_validate(
        {
            **_summary_fields(row),
            "subtotal": row.subtotal,
            "delivery_fee": row.delivery_fee,
            "deposit": row.deposit,
            "address": row.address_text,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "delivery_slot": row.delivery_slot,
            "payment_method": row.payment_method,
            "cash_tendered": row.cash_tendered,
            "payment_proof_received": row.payment_proof_media_id is not None,
            "notes": row.notes,
            "items": [OrderLine.model_validate(line._asdict()) for line in lines],
            "history": [HistoryEntry.model_validate(entry._asdict()) for entry in history],
        }
    )


async def get_order(call: Call) -> OrderDetail:
    """One order with its items, every status it went through and a link to the transfer
    receipt the customer sent, if any."""
    order = await read_order(call.conn, call.path["order_id"])
    if order is None:
        raise not_found(f"no order {call.path['order_id']} in this shop")
    if order.payment_proof_received and call.store is not None and call.settings is not None:
        order.payment_proof = await _receipt(call, order.id)
    return order


async def _receipt(call: Call, order_id: int) -> ReceiptLink | None:
    assert call.store is not None and call.settings is not None
    receipt = await receipt_of(call.conn, order_id)
    if receipt is None:
        return None
    link = await media_link(
        call.conn,
        call.store,
        receipt.message_id,
        expires_s=call.settings.chatcentral_media_link_ttl_s,
    )
    return ReceiptLink(state=link.state, url=link.url) if link is not None else None


async def change_order_status(call: Call) -> OrderDetail:
    """Move the order forward (or cancel it); the customer is told on WhatsApp, exactly as
    when an admin does it from the phone."""
    order_id = call.path["order_id"]
    wanted = call.body(StatusChange)
    outcome = await change_status(
        call.conn,
        call.caller.shop,
        order_id,
        wanted.status,
        actor=call.caller.principal.actor,
        note=wanted.note,
    )
    if isinstance(outcome, StatusRefused):
        if outcome.reason == "not_found":
            raise not_found(f"no order {order_id} in this shop")
        raise conflict(
            "status-refused",
            f"order {order_id} is {outcome.current}: not to {wanted.status} ({outcome.reason})",
            reason=outcome.reason,
            current_status=outcome.current,
        )
    order = await read_order(call.conn, order_id)
    assert order is not None
    return order


ENDPOINTS = (
    Endpoint(
        "GET",
        "/orders",
        list_orders,
        "List orders, newest first",
        "orders",
        response=OrderPage,
        query=OrderQuery,
    ),
    Endpoint(
        "GET",
        "/orders/{order_id:int}",
        get_order,
        "One order with items and status history",
        "orders",
        response=OrderDetail,
        problems=(404,),
    ),
    Endpoint(
        "POST",
        "/orders/{order_id:int}/status",
        change_order_status,
        "Change an order's status and tell the customer",
        "orders",
        response=OrderDetail,
        body=StatusChange,
        problems=(404, 409),
        description=(
            "Forward only along pendiente → confirmado → en_preparacion → en_camino → "
            "entregado (steps may be skipped); cancelado until en_camino. 409 with "
            "`reason` and `current_status` otherwise."
        ),
    ),
)
