"""Per-day numbers of one shop over a range of days (`orders/stats.py` counts them):
messages, the customers who wrote, new customers, orders and revenue, the funnel from
writing to a delivered order, and carts left with products in them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.orders.stats import Day, Period, per_day

DAYS_MAX = 92
DAYS_DEFAULT = 7
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)


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


async def shop_stats(call: Call) -> Stats:
    """Per-day numbers of the shop, oldest day first."""
    shop = call.caller.shop
    today = datetime.now(ZoneInfo(shop.timezone)).date()
    since, until = _range(call.query(StatsQuery), today)
    days = await per_day(call.conn, Period(since, until, shop.timezone))
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
