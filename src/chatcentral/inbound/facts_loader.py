"""Loading the facts a decision needs, inside the message's transaction.

The catalog is cached per shop for a short time (it changes rarely and every customer
reads it) and handed to the engine before it decides whenever the cache holds it. A
customer's facts and order history are read per message, only when the engine asks for
them: their statements go out together in one pipeline, one round trip for all of them.
The SQL runs on the driver connection (`db/driver.py`), one text per shop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import psycopg

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
from chatcentral.db.driver import SchemaSQL

CATALOG_TTL_S = 30.0
RECENT_ORDERS = 10

CATEGORIES = SchemaSQL("""
SELECT id, name FROM {schema}.categories WHERE active ORDER BY position, id
""")
PRODUCTS = SchemaSQL("""
SELECT id, category_id, name, description, price, unit, stock, retailer_id, image_key
FROM {schema}.products WHERE active ORDER BY position, id
""")
CUSTOMER_ROW = SchemaSQL("""
SELECT name, jugs_held FROM {schema}.customers WHERE id = %(customer_id)s::bigint
""")
ADDRESSES = SchemaSQL("""
SELECT id, address_text, postal_code, latitude, longitude
FROM {schema}.customer_addresses WHERE customer_id = %(customer_id)s::bigint
ORDER BY last_used_at DESC LIMIT 5
""")
ORDERS_SQL = SchemaSQL("""
SELECT o.id, o.created_at, s.name, o.status_changed_at, o.total, o.fulfillment
FROM {schema}.orders o JOIN {schema}.order_status s ON s.id = o.status_id
WHERE o.customer_id = %(customer_id)s::bigint
ORDER BY o.id DESC LIMIT %(limit)s::integer
""")
# The lines of the same orders, found by the same subquery so that both go out at once.
LINES = SchemaSQL("""
SELECT order_id, product_id, product_name, unit, quantity, unit_price
FROM {schema}.order_items
WHERE order_id IN (SELECT id FROM {schema}.orders WHERE customer_id = %(customer_id)s::bigint
                   ORDER BY id DESC LIMIT %(limit)s::integer)
ORDER BY id
""")

Cursor = psycopg.AsyncCursor[Any]


class FactsLoader:
    def __init__(self, ttl: float = CATALOG_TTL_S) -> None:
        self._ttl = ttl
        self._catalogs: dict[str, tuple[float, Catalog]] = {}

    def prime(self, schema: str, facts: Facts) -> None:
        """Hand over the cached catalog, if fresh, before the engine asks (no I/O)."""
        cached = self._catalogs.get(schema)
        if cached is not None and cached[0] > time.monotonic():
            facts.catalog_ = cached[1]

    async def load(
        self,
        pg: psycopg.AsyncConnection[Any],
        schema: str,
        customer_id: int,
        facts: Facts,
        kinds: Iterable[str],
    ) -> None:
        """Fill in the facts of these kinds (the rest of `facts` is left as it is)."""
        wanted = set(kinds)
        if CATALOG in wanted:
            self.prime(schema, facts)
            if facts.catalog_ is not None:
                wanted.discard(CATALOG)
        if not wanted:
            return
        customer = {"customer_id": customer_id}
        async with pg.pipeline():
            cursors: dict[str, list[Cursor]] = {}
            if CATALOG in wanted:
                cursors[CATALOG] = [
                    await pg.execute(CATEGORIES.text(schema)),
                    await pg.execute(PRODUCTS.text(schema)),
                ]
            if CUSTOMER in wanted:
                last = {**customer, "limit": 1}
                cursors[CUSTOMER] = [
                    await pg.execute(CUSTOMER_ROW.text(schema), customer),
                    await pg.execute(ADDRESSES.text(schema), customer),
                    await pg.execute(ORDERS_SQL.text(schema), last),
                    await pg.execute(LINES.text(schema), last),
                ]
            if ORDERS in wanted:
                recent = {**customer, "limit": RECENT_ORDERS}
                cursors[ORDERS] = [
                    await pg.execute(ORDERS_SQL.text(schema), recent),
                    await pg.execute(LINES.text(schema), recent),
                ]
        # Read after the pipeline's one Sync: reading inside it would cost a round trip more.
        rows = {
            kind: [await cursor.fetchall() for cursor in found] for kind, found in cursors.items()
        }
        if CATALOG in rows:
            categories, products = rows[CATALOG]
            catalog = Catalog(
                categories=tuple(Category(*row) for row in categories),
                products=tuple(Product(*row) for row in products),
            )
            self._catalogs[schema] = (time.monotonic() + self._ttl, catalog)
            facts.catalog_ = catalog
        if CUSTOMER in rows:
            customer_rows, addresses, last_order, last_lines = rows[CUSTOMER]
            name, jugs_held = customer_rows[0]
            orders = _orders(last_order, last_lines)
            facts.customer_ = CustomerFacts(
                name=name,
                jugs_held=int(jugs_held),
                addresses=tuple(_address(row) for row in addresses),
                last_order=orders[0] if orders else None,
            )
        if ORDERS in rows:
            facts.orders_ = tuple(_orders(*rows[ORDERS]))


def _address(row: tuple[Any, ...]) -> SavedAddress:
    id_, text, postal_code, latitude, longitude = row
    return SavedAddress(
        id=id_,
        text=text,
        postal_code=postal_code,
        latitude=_float(latitude),
        longitude=_float(longitude),
    )


def _orders(orders: list[tuple[Any, ...]], items: list[tuple[Any, ...]]) -> list[OrderSummary]:
    lines: dict[int, list[OrderLine]] = {}
    for order_id, *line in items:
        lines.setdefault(order_id, []).append(OrderLine(*line))
    return [
        OrderSummary(
            id=id_,
            created_at=created_at,
            status=status,
            status_changed_at=changed_at,
            total=total,
            fulfillment=fulfillment,
            lines=tuple(lines.get(id_, [])),
        )
        for id_, created_at, status, changed_at, total, fulfillment in orders
    ]


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
