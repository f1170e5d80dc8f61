"""What the orders board reads: today's orders (in the shop's time zone) and older ones
still open, grouped by status, newest first; and the marker the live feed watches.

The connection is bound to the shop's schema, so another shop's orders are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.tenant import Customer, Order, OrderItem, OrderStatus

BOARD_MAX = 300  # a day's board longer than this is not read on a phone
# Statuses in the order the board shows them: what needs the owner first.
COLUMNS = ("pendiente", "confirmado", "en_preparacion", "en_camino", "entregado", "cancelado")


@dataclass(frozen=True)
class BoardOrder:
    id: int
    customer: str
    total: Decimal
    items: int
    created_at: datetime


@dataclass(frozen=True)
class Column:
    code: str
    name: str
    orders: list[BoardOrder]


def start_of_today(timezone: str, now: datetime) -> datetime:
    zone = ZoneInfo(timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


_items = (
    select(func.count())
    .where(OrderItem.order_id == Order.id)
    .correlate(Order)
    .scalar_subquery()
    .label("items")
)
_name = func.coalesce(Customer.name, Customer.wa_id, "Cliente").label("customer")


async def board(conn: AsyncConnection, since: datetime) -> list[Column]:
    """Orders created since `since` and every order still open, by status (only the
    statuses that have some), newest first in each."""
    rows = (
        await conn.execute(
            select(
                Order.id,
                _name,
                Order.total,
                _items,
                Order.created_at,
                OrderStatus.code,
                OrderStatus.name,
            )
            .join(OrderStatus, OrderStatus.id == Order.status_id)
            .join(Customer, Customer.id == Order.customer_id)
            .where(or_(Order.created_at >= since, ~OrderStatus.is_final))
            .order_by(Order.id.desc())
            .limit(BOARD_MAX)
        )
    ).all()
    columns: dict[str, Column] = {}
    for row in rows:
        column = columns.setdefault(row.code, Column(row.code, row.name, []))
        column.orders.append(
            BoardOrder(row.id, row.customer, row.total, int(row.items), row.created_at)
        )
    rank = {code: i for i, code in enumerate(COLUMNS)}
    return sorted(columns.values(), key=lambda c: rank.get(c.code, len(rank)))


async def marker(conn: AsyncConnection) -> tuple[int, str]:
    """The newest order id and the latest status change: when either moves, the board
    is out of date (a new order also rings)."""
    row = (await conn.execute(select(func.max(Order.id), func.max(Order.status_changed_at)))).one()
    latest, changed = row
    return int(latest or 0), changed.isoformat() if changed is not None else ""
