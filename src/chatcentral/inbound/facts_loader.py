"""Loading the facts a decision needs, inside the message's transaction.

The catalog is cached per shop for a short time (it changes rarely and every customer
reads it); customer facts and order history are read per message, only when needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.facts import (
    CATALOG,
    CUSTOMER,
    ORDERS,
    Catalog,
    Category,
    CustomerFacts,
    Facts,
    OrderLine,
    OrderSummary,
    Product,
    SavedAddress,
)
from chatcentral.models.tenant import (
    Category as CategoryRow,
)
from chatcentral.models.tenant import (
    Customer,
    CustomerAddress,
    Order,
    OrderItem,
    OrderStatus,
)
from chatcentral.models.tenant import (
    Product as ProductRow,
)

CATALOG_TTL_S = 30.0
RECENT_ORDERS = 10

_CATEGORIES = (
    select(CategoryRow.id, CategoryRow.name)
    .where(CategoryRow.active)
    .order_by(CategoryRow.position, CategoryRow.id)
)
_PRODUCTS = (
    select(
        ProductRow.id,
        ProductRow.category_id,
        ProductRow.name,
        ProductRow.description,
        ProductRow.price,
        ProductRow.unit,
        ProductRow.stock,
        ProductRow.retailer_id,
    )
    .where(ProductRow.active)
    .order_by(ProductRow.position, ProductRow.id)
)
_customer_id = bindparam("customer_id", type_=Integer)
_CUSTOMER = select(Customer.name, Customer.jugs_held).where(Customer.id == _customer_id)
_ADDRESSES = (
    select(
        CustomerAddress.id,
        CustomerAddress.address_text,
        CustomerAddress.postal_code,
        CustomerAddress.latitude,
        CustomerAddress.longitude,
    )
    .where(CustomerAddress.customer_id == _customer_id)
    .order_by(CustomerAddress.last_used_at.desc())
    .limit(5)
)
_ORDERS = (
    select(
        Order.id,
        Order.created_at,
        OrderStatus.name,
        Order.status_changed_at,
        Order.total,
        Order.fulfillment,
    )
    .join(OrderStatus, OrderStatus.id == Order.status_id)
    .where(Order.customer_id == _customer_id)
    .order_by(Order.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_LINES = (
    select(
        OrderItem.order_id,
        OrderItem.product_id,
        OrderItem.product_name,
        OrderItem.unit,
        OrderItem.quantity,
        OrderItem.unit_price,
    )
    .where(OrderItem.order_id.in_(bindparam("order_ids", expanding=True)))
    .order_by(OrderItem.id)
)


class FactsLoader:
    def __init__(self, ttl: float = CATALOG_TTL_S) -> None:
        self._ttl = ttl
        self._catalogs: dict[str, tuple[float, Catalog]] = {}

    async def load(
        self,
        conn: AsyncConnection,
        schema: str,
        customer_id: int,
        facts: Facts,
        kinds: Iterable[str],
    ) -> None:
        """Fill in the facts of these kinds (the rest of `facts` is left as it is)."""
        for kind in kinds:
            if kind == CATALOG:
                facts.catalog_ = await self._catalog(conn, schema)
            elif kind == CUSTOMER:
                facts.customer_ = await _customer(conn, customer_id)
            elif kind == ORDERS:
                facts.orders_ = tuple(await _orders(conn, customer_id, RECENT_ORDERS))

    async def _catalog(self, conn: AsyncConnection, schema: str) -> Catalog:
        cached = self._catalogs.get(schema)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        categories = tuple(Category(*row) for row in (await conn.execute(_CATEGORIES)).all())
        products = tuple(Product(*row) for row in (await conn.execute(_PRODUCTS)).all())
        catalog = Catalog(categories=categories, products=products)
        self._catalogs[schema] = (now + self._ttl, catalog)
        return catalog


async def _customer(conn: AsyncConnection, customer_id: int) -> CustomerFacts:
    params = {"customer_id": customer_id}
    name, jugs = (await conn.execute(_CUSTOMER, params)).one()
    addresses = tuple(
        SavedAddress(
            id=row.id,
            text=row.address_text,
            postal_code=row.postal_code,
            latitude=_float(row.latitude),
            longitude=_float(row.longitude),
        )
        for row in (await conn.execute(_ADDRESSES, params)).all()
    )
    last = await _orders(conn, customer_id, 1)
    return CustomerFacts(
        name=name, jugs_held=int(jugs), addresses=addresses, last_order=last[0] if last else None
    )


async def _orders(conn: AsyncConnection, customer_id: int, limit: int) -> list[OrderSummary]:
    rows = (await conn.execute(_ORDERS, {"customer_id": customer_id, "limit": limit})).all()
    if not rows:
        return []
    lines: dict[int, list[OrderLine]] = {}
    for line in (await conn.execute(_LINES, {"order_ids": [row.id for row in rows]})).all():
        lines.setdefault(line.order_id, []).append(
            OrderLine(line.product_id, line.product_name, line.unit, line.quantity, line.unit_price)
        )
    return [
        OrderSummary(
            id=row.id,
            created_at=row.created_at,
            status=row.name,
            status_changed_at=row.status_changed_at,
            total=row.total,
            fulfillment=row.fulfillment,
            lines=tuple(lines.get(row.id, [])),
        )
        for row in rows
    ]


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
