"""Placing an order: the customer's confirmed cart written as an order, exactly once.

What may have changed since the customer chose (availability, stock, prices, the minimum)
is re-checked with the products locked; when something did, nothing is written and the
customer hears why (`OrderRejected`). A placed order gets its items, its first history
row, its stock taken, the customer's jugs counted, and the news for the shop's admins
(a `notifications` row and one outbox row per admin, `notifications/notify.py`) recorded
durably in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation import cart
from chatcentral.conversation.effects import (
    Adjustment,
    OrderPlaced,
    OrderRejected,
    PlaceOrder,
    Problem,
)
from chatcentral.conversation.shop import Shop
from chatcentral.metrics import ORDERS_CREATED
from chatcentral.models.tenant import (
    Customer,
    CustomerAddress,
    Notification,
    Order,
    OrderHistory,
    OrderItem,
    OrderStatus,
    Product,
    StatusCode,
)
from chatcentral.notifications import notify
from chatcentral.notifications.new_order import OrderNotice
from chatcentral.outgoing import events

_LOCK_PRODUCTS = (
    select(Product.id, Product.name, Product.price, Product.stock, Product.active, Product.unit)
    .where(Product.id.in_(bindparam("ids", expanding=True)))
    .order_by(Product.id)
    .with_for_update()
)
_PENDING = select(OrderStatus.id).where(OrderStatus.code == StatusCode.PENDING)


async def place_order(
    conn: AsyncConnection,
    shop: Shop,
    customer_id: int,
    order: PlaceOrder,
    source_wamid: str,
) -> OrderPlaced | OrderRejected:
    """Write the order in the caller's transaction, or say why it cannot be placed."""
    lines = list(order.lines)
    locked = await conn.execute(_LOCK_PRODUCTS, {"ids": [line.product_id for line in lines]})
    rows = {row.id: row for row in locked.all()}
    problems, adjust = _changes_since_chosen(lines, rows)
    subtotal = sum((line.total for line in lines), Decimal("0"))
    if not problems and subtotal < order.minimum_order:
        problems.append(Problem("rejected.minimum", {"minimum": cart.money(order.minimum_order)}))
    if problems:
        return OrderRejected(problems=tuple(problems), adjust=tuple(adjust))

    address_id = await _remember_address(conn, customer_id, order)
    total = subtotal + order.delivery_fee + order.deposit
    address = order.address or {}
    order_id = (
        await conn.execute(
            insert(Order)
            .values(
                customer_id=customer_id,
                status_id=_PENDING.scalar_subquery(),
                fulfillment=order.fulfillment,
                address_id=address_id,
                address_text=address.get("text"),
                latitude=address.get("latitude"),
                longitude=address.get("longitude"),
                delivery_slot=order.slot,
                payment_method=order.payment_method,
                cash_tendered=order.cash_tendered,
                payment_proof_media_id=order.receipt_media_id,
                notes=order.notes,
                subtotal=subtotal,
                delivery_fee=order.delivery_fee,
                deposit=order.deposit,
                total=total,
                currency=shop.currency,
                source_wamid=source_wamid,
            )
            .returning(Order.id)
        )
    ).scalar_one()
    await conn.execute(
        insert(OrderItem),
        [
            {
                "order_id": order_id,
                "product_id": line.product_id,
                "product_name": line.name,
                "unit": line.unit,
                "quantity": line.quantity,
                "unit_price": line.price,
                "line_total": line.total,
            }
            for line in lines
        ],
    )
    await conn.execute(
        insert(OrderHistory).values(
            order_id=order_id, status_id=_PENDING.scalar_subquery(), changed_by="customer"
        )
    )
    for line in lines:
        if rows[line.product_id].stock is not None:
            await conn.execute(
                update(Product)
                .where(Product.id == line.product_id)
                .values(stock=Product.stock - line.quantity, updated_at=func.now())
            )
    jugs = order.jugs_delivered - order.empties
    if jugs:
        await conn.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(jugs_held=func.greatest(Customer.jugs_held + jugs, 0))
        )
    admins = len(notify.admin_recipients(shop))
    notification_id = (
        await conn.execute(
            insert(Notification)
            .values(
                kind="order.created",
                payload={
                    "order_id": order_id,
                    "customer_id": customer_id,
                    "total": str(total),
                    "admins": admins,  # delivered once this many sends went out
                },
            )
            .returning(Notification.id)
        )
    ).scalar_one()
    notice = await _notice(conn, customer_id, order_id, order, total)
    await notify.notify_new_order(conn, shop, notification_id, notice)
    await events.emit(
        conn,
        shop,
        events.ORDER_CREATED,
        {
            "order_id": order_id,
            "customer_id": customer_id,
            "total": str(total),
            "status": "pendiente",
            "items": [
                {"product_id": line.product_id, "quantity": str(line.quantity)}
                for line in order.lines
            ],
        },
    )
    ORDERS_CREATED.inc()  # counted at placement; a rolled-back one is counted all the same
    return OrderPlaced(order_id=order_id, total=total)


async def _notice(
    conn: AsyncConnection, customer_id: int, order_id: int, order: PlaceOrder, total: Decimal
) -> OrderNotice:
    """The placed order as the shop's admins are told about it."""
    customer = (
        await conn.execute(select(Customer.name, Customer.wa_id).where(Customer.id == customer_id))
    ).one()
    address = order.address or {}
    latitude, longitude = address.get("latitude"), address.get("longitude")
    return OrderNotice(
        order_id=order_id,
        customer_name=customer.name,
        customer_phone=f"+{customer.wa_id}" if customer.wa_id else None,
        lines=tuple(order.lines),
        delivery_fee=order.delivery_fee,
        deposit=order.deposit,
        total=total,
        fulfillment=order.fulfillment,
        address_text=address.get("text") if order.fulfillment == "delivery" else None,
        latitude=float(latitude) if latitude is not None else None,
        longitude=float(longitude) if longitude is not None else None,
        slot=order.slot,
        payment_method=order.payment_method,
        cash_tendered=order.cash_tendered,
        receipt_received=order.receipt_media_id is not None,
        notes=order.notes,
    )


def _changes_since_chosen(
    lines: list[cart.Line], rows: dict[int, Any]
) -> tuple[list[Problem], list[Adjustment]]:
    """What changed since the customer chose (a text key with its values, for the engine to
    say) and how the cart must change to match."""
    problems: list[Problem] = []
    adjust: list[Adjustment] = []
    for line in lines:
        row = rows.get(line.product_id)
        if row is None or not row.active:
            problems.append(Problem("rejected.unavailable", {"name": line.name}))
            adjust.append(Adjustment(line.product_id, Decimal("0")))
        elif row.stock is not None and row.stock < line.quantity:
            available = cart.quantity_label(row.stock, row.unit)
            problems.append(Problem("rejected.stock", {"name": row.name, "available": available}))
            adjust.append(Adjustment(line.product_id, row.stock))
        elif row.price != line.price:
            problems.append(
                Problem(
                    "rejected.price",
                    {
                        "name": row.name,
                        "old": cart.money(line.price),
                        "new": cart.money(row.price),
                    },
                )
            )
            adjust.append(Adjustment(line.product_id, line.quantity, row.price))
    return problems, adjust


async def _remember_address(
    conn: AsyncConnection, customer_id: int, order: PlaceOrder
) -> int | None:
    address = order.address
    if order.fulfillment != "delivery" or not address:
        return None
    if address.get("address_id"):
        address_id = int(address["address_id"])
        await conn.execute(
            update(CustomerAddress)
            .where(CustomerAddress.id == address_id, CustomerAddress.customer_id == customer_id)
            .values(last_used_at=func.now())
        )
        return address_id
    created = await conn.execute(
        insert(CustomerAddress)
        .values(
            customer_id=customer_id,
            address_text=address.get("text"),
            postal_code=address.get("postal_code"),
            latitude=address.get("latitude"),
            longitude=address.get("longitude"),
        )
        .returning(CustomerAddress.id)
    )
    return int(created.scalar_one())
