"""The Estadísticas page: the last 7, 30 or 90 days of the shop (in its time zone) as a
chart of orders and revenue per day, the period's totals, the funnel from a customer's
first message to a confirmed order and the best-selling products, all counted by
`orders/stats.py` as the admin API counts them. Plans without `panel_stats` get a 403
that names the plan to move to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatcentral.conversation.cart import quantity_label
from chatcentral.conversation.shop import Shop
from chatcentral.orders.stats import Day, Period, PeriodFunnel, funnel, per_day, top_products
from chatcentral.panel.access import Session
from chatcentral.panel.render import page
from chatcentral.panel.requests import signed_in
from chatcentral.panel.stats_chart import chart, orders_of
from chatcentral.tenancy.plans import PANEL_STATS, plan_with

PERIODS = (7, 30, 90)
DEFAULT_DAYS = PERIODS[0]


@dataclass(frozen=True, slots=True)
class Totals:
    orders: int
    revenue: Decimal
    average: Decimal | None
    cancelled: int


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    count: int
    percent: int | None  # of the customers who wrote; None when nobody did
    width: float  # of the widest step, 0 to 100


def days_asked(value: str | None) -> int:
    """The period in the address; anything but 7, 30 or 90 reads as the default week."""
    return int(value) if value in {str(days) for days in PERIODS} else DEFAULT_DAYS


def totals(days: list[Day]) -> Totals:
    orders = sum(orders_of(day) for day in days)
    revenue = sum((day.revenue for day in days), Decimal("0.00"))
    average = (revenue / orders).quantize(Decimal("0.01")) if orders else None
    return Totals(orders, revenue, average, sum(day.cancelled for day in days))


def steps(counted: PeriodFunnel) -> list[Step]:
    named = (
        ("Escribieron", counted.wrote),
        ("Armaron un carrito", counted.carted),
        ("Hicieron un pedido", counted.ordered),
        ("Pedido confirmado", counted.confirmed),
    )
    widest = max(count for _, count in named) or 1
    first = counted.wrote
    return [
        Step(
            label,
            count,
            round(100 * count / first) if first else None,
            round(100 * count / widest, 1),
        )
        for label, count in named
    ]


async def _stats(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    if not shop.includes(PANEL_STATS):
        plan = await plan_with(conn, PANEL_STATS)
        return page("stats_locked.html", 403, csrf=session.csrf_token, shop=shop, plan=plan)
    days = days_asked(request.query_params.get("days"))
    period = Period.last(days, shop.timezone, datetime.now(UTC))
    daily = await per_day(conn, period)
    counted = await funnel(conn, period)
    by_quantity, by_revenue = await top_products(conn, period)
    summed = totals(daily)
    return page(
        "stats.html",
        csrf=session.csrf_token,
        shop=shop,
        days=days,
        periods=PERIODS,
        daily=daily,
        chart=chart(daily) if summed.orders else None,
        totals=summed,
        steps=steps(counted) if counted.wrote or counted.carted else None,
        by_quantity=by_quantity,
        by_revenue=by_revenue,
        amount=quantity_label,
        orders_of=orders_of,
    )


def routes() -> list[Route]:
    return [Route("/stats", signed_in(_stats), methods=["GET"])]
