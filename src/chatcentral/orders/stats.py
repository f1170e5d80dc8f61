"""A shop's numbers over a run of days, days counted in the shop's time zone: per day
(messages, the customers who wrote, new customers, orders, revenue, the funnel, carts
left), the funnel over the whole period and the best-selling products. The admin API
(`api/stats.py`) and the panel's Estadísticas page both read them here.

Per day, the funnel is what the stored rows can show: customers who wrote, customers who
placed an order (the customer's own confirmation at the end of checkout), orders the
shop confirmed (moved past pendiente, not cancelled) and orders delivered. A cart is
abandoned when a session still holds products (or held them when it expired) and has
been idle an hour; it is counted on the day of its last message. Cancelled orders count
as orders (and as cancelled) but never in revenue or in the products sold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import ColumnClause, Date, Select, cast, distinct, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.tenant import (
    Customer,
    CustomerSession,
    Message,
    Order,
    OrderItem,
    OrderStatus,
    StatusCode,
)

IDLE = timedelta(hours=1)  # a cart untouched this long is abandoned
_FIRST: ColumnClause[Any] = literal_column("1")  # group by the first column
_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Period:
    """`since` to `until`, both included, as days in `timezone`."""

    since: date
    until: date
    timezone: str

    @classmethod
    def last(cls, days: int, timezone: str, now: datetime) -> Period:
        """The `days` days ending today (in the shop's time zone)."""
        today = now.astimezone(ZoneInfo(timezone)).date()
        return cls(today - timedelta(days=days - 1), today, timezone)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(), ZoneInfo(self.timezone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(), ZoneInfo(self.timezone))

    def days(self) -> Iterator[date]:
        for offset in range((self.until - self.since).days + 1):
            yield self.since + timedelta(days=offset)

    def day(self, column: Any) -> Any:
        """The local date of a timestamp column."""
        return cast(func.timezone(self.timezone, column), Date)

    def within(self, column: Any) -> Any:
        return (column >= self.start) & (column < self.end)


class Funnel(BaseModel):
    wrote: int = Field(description="customers who wrote")
    ordered: int = Field(description="customers who placed an order")
    confirmed: int = Field(description="orders the shop confirmed (not cancelled)")
    delivered: int = Field(description="orders delivered")


class Day(BaseModel):
    date: date
    messages_in: int
    messages_out: int
    conversations: int = Field(description="customers who wrote that day")
    new_customers: int
    orders: int
    cancelled: int
    revenue: Decimal = Field(description="total of the day's orders, cancelled ones excluded")
    funnel: Funnel
    abandoned_carts: int


@dataclass(frozen=True, slots=True)
class PeriodFunnel:
    """Distinct customers at each step over a whole period (a customer who wrote on two
    days is one customer, which per-day numbers cannot add up to)."""

    wrote: int
    carted: int  # held products in a cart, or ordered (placing an order empties the cart)
    ordered: int
    confirmed: int


@dataclass(frozen=True, slots=True)
class ProductSales:
    name: str
    unit: str
    quantity: Decimal
    revenue: Decimal


async def _by_day(conn: AsyncConnection, query: Select[Any]) -> dict[date, Any]:
    return {row[0]: row for row in (await conn.execute(query)).all()}


def _holding_a_cart() -> Any:
    context = CustomerSession.context
    return or_(
        func.coalesce(func.jsonb_array_length(context["cart"]), 0) > 0,
        func.coalesce(func.jsonb_array_length(context["previous"]["cart"]), 0) > 0,
    )


def _cancelled() -> Any:
    return OrderStatus.code == StatusCode.CANCELLED


def _confirmed() -> Any:
    return OrderStatus.code.notin_((StatusCode.PENDING, StatusCode.CANCELLED))


async def per_day(conn: AsyncConnection, period: Period) -> list[Day]:
    """Every day of the period, oldest first, days without anything included as zeros."""
    day, within = period.day, period.within
    messages = await _by_day(
        conn,
        select(
            day(Message.created_at),
            func.count().filter(Message.direction == "in"),
            func.count().filter(Message.direction == "out"),
            func.count(distinct(Message.customer_id)).filter(Message.direction == "in"),
        )
        .where(within(Message.created_at))
        .group_by(_FIRST),
    )
    new = await _by_day(
        conn,
        select(day(Customer.created_at), func.count())
        .where(within(Customer.created_at))
        .group_by(_FIRST),
    )
    orders = await _by_day(
        conn,
        select(
            day(Order.created_at),
            func.count(),
            func.count().filter(_cancelled()),
            func.coalesce(func.sum(Order.total).filter(~_cancelled()), _ZERO),
            func.count(distinct(Order.customer_id)),
            func.count().filter(_confirmed()),
            func.count().filter(OrderStatus.code == StatusCode.DELIVERED),
        )
        .join(OrderStatus, OrderStatus.id == Order.status_id)
        .where(within(Order.created_at))
        .group_by(_FIRST),
    )
    carts = await _by_day(
        conn,
        select(day(CustomerSession.updated_at), func.count())
        .where(
            within(CustomerSession.updated_at),
            CustomerSession.updated_at < func.now() - IDLE,
            _holding_a_cart(),
        )
        .group_by(_FIRST),
    )
    return [
        _day(when, messages.get(when), new.get(when), orders.get(when), carts.get(when))
        for when in period.days()
    ]


def _day(when: date, m: Any, new: Any, o: Any, carts: Any) -> Day:
    return Day(
        date=when,
        messages_in=m[1] if m else 0,
        messages_out=m[2] if m else 0,
        conversations=m[3] if m else 0,
        new_customers=new[1] if new else 0,
        orders=o[1] if o else 0,
        cancelled=o[2] if o else 0,
        revenue=o[3] if o else _ZERO,
        funnel=Funnel(
            wrote=m[3] if m else 0,
            ordered=o[4] if o else 0,
            confirmed=o[5] if o else 0,
            delivered=o[6] if o else 0,
        ),
        abandoned_carts=carts[1] if carts else 0,
    )


async def funnel(conn: AsyncConnection, period: Period) -> PeriodFunnel:
    within = period.within
    wrote = select(func.count(distinct(Message.customer_id))).where(
        Message.direction == "in", within(Message.created_at)
    )
    orders = (
        select(
            func.count(distinct(Order.customer_id)),
            func.count(distinct(Order.customer_id)).filter(_confirmed()),
        )
        .join(OrderStatus, OrderStatus.id == Order.status_id)
        .where(within(Order.created_at))
    )
    # UNION, not UNION ALL: a customer with a cart who also ordered counts once.
    with_a_cart = (
        select(CustomerSession.customer_id)
        .where(within(CustomerSession.updated_at), _holding_a_cart())
        .union(select(Order.customer_id).where(within(Order.created_at)))
        .subquery()
    )
    carted = select(func.count()).select_from(with_a_cart)
    ordered, confirmed = (await conn.execute(orders)).one()
    return PeriodFunnel(
        wrote=int((await conn.execute(wrote)).scalar_one()),
        carted=int((await conn.execute(carted)).scalar_one()),
        ordered=int(ordered),
        confirmed=int(confirmed),
    )


async def top_products(
    conn: AsyncConnection, period: Period, limit: int = 10
) -> tuple[list[ProductSales], list[ProductSales]]:
    """The best sellers of the period by quantity and by revenue, cancelled orders left
    out. Items are grouped by the name they were sold under, which outlives the product."""
    quantity = func.sum(OrderItem.quantity).label("quantity")
    revenue = func.sum(OrderItem.line_total).label("revenue")
    sold = (
        select(OrderItem.product_name, OrderItem.unit, quantity, revenue)
        .join(Order, Order.id == OrderItem.order_id)
        .join(OrderStatus, OrderStatus.id == Order.status_id)
        .where(period.within(Order.created_at), ~_cancelled())
        .group_by(OrderItem.product_name, OrderItem.unit)
        .limit(limit)
    )
    tops = []
    for first, second in ((quantity, revenue), (revenue, quantity)):
        rows = await conn.execute(
            sold.order_by(first.desc(), second.desc(), OrderItem.product_name)
        )
        tops.append([ProductSales(*row) for row in rows.all()])
    return tops[0], tops[1]
