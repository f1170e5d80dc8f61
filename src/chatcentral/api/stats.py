"""Per-day numbers of one shop, days counted in the shop's time zone: messages, the
customers who wrote, new customers, orders and revenue, the funnel from writing to a
delivered order, and carts left with products in them.

The funnel is what the stored rows can show, per day: customers who wrote, customers who
placed an order (the customer's own confirmation at the end of checkout), orders the
shop confirmed (moved past pendiente, not cancelled) and orders delivered. A cart is
abandoned when a session still holds products (or held them when it expired) and has
been idle an hour; it is counted on the day of its last message.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnClause, Date, Select, cast, distinct, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.models.tenant import (
    Customer,
    CustomerSession,
    Message,
    Order,
    OrderStatus,
)

DAYS_MAX = 92
DAYS_DEFAULT = 7
IDLE = timedelta(hours=1)  # a cart untouched this long is abandoned
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)
_FIRST: ColumnClause[Any] = literal_column("1")  # group by the day, the first column


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Bounded so that the day arithmetic below can never leave Python's calendar.
    since: date | None = Field(
        default=None, ge=FIRST_DAY, le=LAST_DAY, description="first day (default: 6 days ago)"
    )
    until: date | None = Field(
        default=None, ge=FIRST_DAY, le=LAST_DAY, description="last day, included (default: today)"
    )

    @model_validator(mode="after")
    def _span(self) -> StatsQuery:
        if self.since is not None and self.until is not None:
            if self.since > self.until:
                raise ValueError("since must not be after until")
            if (self.until - self.since).days >= DAYS_MAX:
                raise ValueError(f"at most {DAYS_MAX} days at once")
        return self


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


class Stats(BaseModel):
    timezone: str
    currency: str
    days: list[Day]


def _range(query: StatsQuery, today: date) -> tuple[date, date]:
    until = query.until or (
        today if query.since is None else min(today, query.since + timedelta(DAYS_MAX - 1))
    )
    since = query.since or until - timedelta(DAYS_DEFAULT - 1)
    if (until - since).days >= DAYS_MAX:
        since = until - timedelta(DAYS_MAX - 1)
    return since, until


async def _by_day(conn: AsyncConnection, query: Select[Any]) -> dict[date, Any]:
    return {row[0]: row for row in (await conn.execute(query)).all()}


async def shop_stats(call: Call) -> Stats:
    """Per-day numbers of the shop, oldest day first."""
    shop = call.caller.shop
    zone = ZoneInfo(shop.timezone)
    since, until = _range(call.query(StatsQuery), datetime.now(zone).date())
    start = datetime.combine(since, time(), zone)
    end = datetime.combine(until + timedelta(days=1), time(), zone)

    def day(column: Any) -> Any:
        return cast(func.timezone(shop.timezone, column), Date)

    def within(column: Any) -> Any:
        return (column >= start) & (column < end)

    conn = call.conn
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
    cancelled = OrderStatus.code == "cancelado"
    orders = await _by_day(
        conn,
        select(
            day(Order.created_at),
            func.count(),
            func.count().filter(cancelled),
            func.coalesce(func.sum(Order.total).filter(~cancelled), Decimal("0.00")),
            func.count(distinct(Order.customer_id)),
            func.count().filter(OrderStatus.code.notin_(("pendiente", "cancelado"))),
            func.count().filter(OrderStatus.code == "entregado"),
        )
        .join(OrderStatus, OrderStatus.id == Order.status_id)
        .where(within(Order.created_at))
        .group_by(_FIRST),
    )
    context = CustomerSession.context
    holding = or_(
        func.coalesce(func.jsonb_array_length(context["cart"]), 0) > 0,
        func.coalesce(func.jsonb_array_length(context["previous"]["cart"]), 0) > 0,
    )
    carts = await _by_day(
        conn,
        select(day(CustomerSession.updated_at), func.count())
        .where(
            within(CustomerSession.updated_at),
            CustomerSession.updated_at < func.now() - IDLE,
            holding,
        )
        .group_by(_FIRST),
    )
    days = []
    for offset in range((until - since).days + 1):
        when = since + timedelta(days=offset)
        m = messages.get(when)
        o = orders.get(when)
        days.append(
            Day(
                date=when,
                messages_in=m[1] if m else 0,
                messages_out=m[2] if m else 0,
                conversations=m[3] if m else 0,
                new_customers=new[when][1] if when in new else 0,
                orders=o[1] if o else 0,
                cancelled=o[2] if o else 0,
                revenue=o[3] if o else Decimal("0.00"),
                funnel=Funnel(
                    wrote=m[3] if m else 0,
                    ordered=o[4] if o else 0,
                    confirmed=o[5] if o else 0,
                    delivered=o[6] if o else 0,
                ),
                abandoned_carts=carts[when][1] if when in carts else 0,
            )
        )
    return Stats(timezone=shop.timezone, currency=shop.currency, days=days)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/stats",
        shop_stats,
        "Per-day numbers: messages, conversations, orders, revenue, funnel, abandoned carts",
        "stats",
        response=Stats,
        query=StatsQuery,
        description=(
            f"Days in the shop's time zone, `since` to `until` included (at most {DAYS_MAX}; "
            f"by default the last {DAYS_DEFAULT}). Funnel per day: customers who wrote, "
            "customers who ordered, orders the shop confirmed, orders delivered. A cart is "
            "abandoned when a session has held products for an hour without an order."
        ),
    ),
)
