"""A shop's orders, messages and carts over the last days, written straight into its tables
with known local times, for the panel's Estadísticas tests."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import add_customer, add_order

SCRIPT_NAME = "<script>alert(1)</script>"
ZONE = ZoneInfo("America/Mexico_City")  # the test shops' time zone
Item = tuple[str, str, str, str]  # name, unit, quantity, unit price


def today() -> date:
    return datetime.now(ZONE).date()


def local(days_ago: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(today() - timedelta(days=days_ago), time(hour, minute), ZONE)


def order(
    engine: Engine, schema: str, customer: int, at: datetime, items: list[Item], status: str
) -> int:
    """An order of these items, its total their sum."""
    total = sum((Decimal(q) * Decimal(p) for _, _, q, p in items), Decimal("0"))
    made = add_order(engine, schema, customer, status=status, created_at=at, total=total)
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {schema}.order_items WHERE order_id = :o"), {"o": made})
        for name, unit, quantity, price in items:
            conn.execute(
                text(
                    f"INSERT INTO {schema}.order_items (order_id, product_name, unit, quantity, "
                    "unit_price, line_total) VALUES (:o, :n, :u, :q, :p, :t)"
                ),
                {
                    "o": made,
                    "n": name,
                    "u": unit,
                    "q": quantity,
                    "p": price,
                    "t": Decimal(quantity) * Decimal(price),
                },
            )
    return made


def wrote(engine: Engine, schema: str, customer: int, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {schema}.messages (customer_id, direction, type, body, status, "
                "created_at) VALUES (:c, 'in', 'text', '{}', 'received', :at)"
            ),
            {"c": customer, "at": at},
        )


def left_a_cart(engine: Engine, schema: str, customer: int, at: datetime) -> None:
    item = {"product_id": 1, "name": "x", "unit": "PIECE", "price": "1", "quantity": "1"}
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {schema}.customer_sessions (customer_id, state, context, "
                "updated_at) VALUES (:c, 'reviewing_cart', CAST(:ctx AS jsonb), :at)"
            ),
            {"c": customer, "ctx": json.dumps({"cart": [item]}), "at": at},
        )


def a_week_of_orders(engine: Engine, shops: dict[str, ProvisionedShop]) -> None:
    """Orders on several days of the grocery store (one cancelled, one at 23:30 local time,
    which is the next day in UTC, one eight days ago) and a large one of the water company."""
    schema = shops["grocery"].schema
    ana = add_customer(engine, schema, "5215500000001", name="Ana")
    luis = add_customer(engine, schema, "5215500000002", name="Luis")
    eva = add_customer(engine, schema, "5215500000003", name="Eva")
    pepe = add_customer(engine, schema, "5215500000004", name="Pepe")
    memo = add_customer(engine, schema, "5215500000005", name="Memo")
    rice, beans = ("Arroz", "KG"), ("Frijol", "PIECE")
    order(engine, schema, ana, local(1), [(*rice, "2", "30"), (*beans, "1", "40")], "entregado")
    order(engine, schema, luis, local(1, 18), [(*rice, "1", "30")], "pendiente")
    order(engine, schema, ana, local(2, 23, 30), [(*beans, "1", "40")], "confirmado")
    order(engine, schema, luis, local(3), [("Aceite", "PIECE", "10", "50")], "cancelado")
    order(engine, schema, eva, local(3, 13), [(SCRIPT_NAME, "PIECE", "1", "250")], "confirmado")
    order(engine, schema, ana, local(8), [(*beans, "5", "40")], "entregado")
    for customer, days_ago in ((ana, 1), (luis, 3), (eva, 3), (pepe, 1), (memo, 2)):
        wrote(engine, schema, customer, local(days_ago, 11))
    left_a_cart(engine, schema, pepe, local(1, 11, 5))
    water = shops["water"].schema
    theirs = add_customer(engine, water, "5215500000009", name="Otro")
    order(engine, water, theirs, local(1), [("Garrafón", "GARRAFON", "100", "99.99")], "entregado")
    wrote(engine, water, theirs, local(1, 11))
