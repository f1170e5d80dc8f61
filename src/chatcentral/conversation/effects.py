"""Applying the engine's effects inside the message's transaction.

Creating an order re-checks what may have changed since the customer chose (availability,
stock, prices, the minimum) with the products locked; when something did, nothing is
written and the engine hears why (`effect:order_rejected`) to explain it. A placed order
gets its items, its first history row, its stock taken, and a notification for the shop
recorded durably (the shop-notification issue delivers them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation import cart
from chatcentral.conversation.events import Event
from chatcentral.conversation.model import Effect
from chatcentral.conversation.shop import Shop
from chatcentral.models.tenant import (
    Customer,
    CustomerAddress,
    Handoff,
    Notification,
    Order,
    OrderHistory,
    OrderItem,
    OrderStatus,
    Product,
    StatusCode,
)

EFFECT = "effect"

_LOCK_PRODUCTS = (
    select(Product.id, Product.name, Product.price, Product.stock, Product.active, Product.unit)
    .where(Product.id.in_(bindparam("ids", expanding=True)))
    .order_by(Product.id)
    .with_for_update()
)
_PENDING = select(OrderStatus.id).where(OrderStatus.code == StatusCode.PENDING)


async def apply(
    conn: AsyncConnection,
    shop: Shop,
    customer_id: int,
    effect: Effect,
    source_wamid: str,
) -> Event | None:
    """Do one effect; return the event the engine must hear about its outcome, if any."""
    if effect.kind == "create_order":
        return await _create_order(conn, shop, customer_id, effect.data, source_wamid)
    if effect.kind == "open_handoff":
        await _open_handoff(conn, customer_id, effect.data)
    elif effect.kind == "close_handoff":
        await conn.execute(
            update(Handoff)
            .where(Handoff.customer_id == customer_id, Handoff.status != "closed")
            .values(status="closed", closed_at=func.now())
        )
    else:
        raise ValueError(f"unknown effect {effect.kind!r}")
    return None


async def _create_order(
    conn: AsyncConnection,
    shop: Shop,
    customer_id: int,
    data: dict[str, Any],
    source_wamid: str,
) -> Event:
    lines = cart.lines({"cart": data["lines"]})
    locked = await conn.execute(_LOCK_PRODUCTS, {"ids": [line.product_id for line in lines]})
    rows = {row.id: row for row in locked.all()}
    problems, adjust = _changes_since_chosen(lines, rows)
    subtotal = sum((line.total for line in lines), Decimal("0"))
    minimum = Decimal(data.get("minimum_order") or "0")
    if not problems and subtotal < minimum:
        problems.append({"text": "rejected.minimum", "minimum": cart.money(minimum)})
    if problems:
        return Event(
            EFFECT,
            reply_id="effect:order_rejected",
            details={"problems": problems, "adjust": adjust},
        )

    address_id = await _remember_address(conn, customer_id, data)
    fee = Decimal(data.get("delivery_fee") or "0")
    deposit = Decimal(data.get("deposit") or "0")
    total = subtotal + fee + deposit
    address = data.get("address") or {}
    order_id = (
        await conn.execute(
            insert(Order)
            .values(
                customer_id=customer_id,
                status_id=_PENDING.scalar_subquery(),
                fulfillment=data["fulfillment"],
                address_id=address_id,
                address_text=address.get("text"),
                latitude=address.get("latitude"),
                longitude=address.get("longitude"),
                delivery_slot=data.get("slot"),
                payment_method=data.get("payment_method"),
                cash_tendered=data.get("cash_tendered"),
                payment_proof_media_id=data.get("receipt_media_id"),
                notes=data.get("notes"),
                subtotal=subtotal,
                delivery_fee=fee,
                deposit=deposit,
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
    jugs = int(data.get("jugs_delivered") or 0) - int(data.get("empties") or 0)
    if jugs:
        await conn.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(jugs_held=func.greatest(Customer.jugs_held + jugs, 0))
        )
    await conn.execute(
        insert(Notification).values(
            kind="order.created",
            payload={"order_id": order_id, "customer_id": customer_id, "total": str(total)},
        )
    )
    return Event(
        EFFECT,
        reply_id="effect:order_placed",
        details={"order_id": order_id, "total": str(total)},
    )


def _changes_since_chosen(
    lines: list[cart.Line], rows: dict[int, Any]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """What changed since the customer chose (a text key with its values, for the engine to
    say) and how the cart must change to match."""
    problems: list[dict[str, str]] = []
    adjust: list[dict[str, str]] = []
    for line in lines:
        row = rows.get(line.product_id)
        product_id = str(line.product_id)
        if row is None or not row.active:
            problems.append({"text": "rejected.unavailable", "name": line.name})
            adjust.append({"product_id": product_id, "quantity": "0"})
        elif row.stock is not None and row.stock < line.quantity:
            available = cart.quantity_label(row.stock, row.unit)
            problems.append({"text": "rejected.stock", "name": row.name, "available": available})
            adjust.append({"product_id": product_id, "quantity": str(row.stock)})
        elif row.price != line.price:
            problems.append(
                {
                    "text": "rejected.price",
                    "name": row.name,
                    "old": cart.money(line.price),
                    "new": cart.money(row.price),
                }
            )
            adjust.append(
                {"product_id": product_id, "quantity": str(line.quantity), "price": str(row.price)}
            )
    return problems, adjust


async def _remember_address(
    conn: AsyncConnection, customer_id: int, data: dict[str, Any]
) -> int | None:
    address = data.get("address")
    if data.get("fulfillment") != "delivery" or not address:
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


async def _open_handoff(conn: AsyncConnection, customer_id: int, data: dict[str, Any]) -> None:
    opened = await conn.execute(
        pg_insert(Handoff)
        .values(customer_id=customer_id, reason=data.get("reason"))
        .on_conflict_do_nothing(
            index_elements=[Handoff.customer_id], index_where=Handoff.status != "closed"
        )
        .returning(Handoff.id)
    )
    handoff_id = opened.scalar()
    if handoff_id is not None:
        await conn.execute(
            insert(Notification).values(
                kind="handoff.opened",
                payload={"handoff_id": handoff_id, "customer_id": customer_id},
            )
        )
