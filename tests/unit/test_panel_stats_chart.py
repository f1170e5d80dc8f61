"""The Estadísticas chart's geometry: round axis tops, a bar per day standing on the axis,
and day labels that always include today."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from chatcentral.orders.stats import Day, Funnel
from chatcentral.panel.stats_chart import BASE, TOP, chart, nice_ceiling


def day(when: date, orders: int = 0, revenue: str = "0.00", cancelled: int = 0) -> Day:
    return Day(
        date=when,
        messages_in=0,
        messages_out=0,
        conversations=0,
        new_customers=0,
        orders=orders,
        cancelled=cancelled,
        revenue=Decimal(revenue),
        funnel=Funnel(wrote=0, ordered=0, confirmed=0, delivered=0),
        abandoned_carts=0,
    )


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (1250, 2000)]
)
def test_axis_tops_are_round(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


def test_bars_stand_on_the_axis_and_cancelled_orders_are_not_drawn() -> None:
    monday = date(2026, 11, 23)
    days = [day(monday + timedelta(days=n)) for n in range(7)]
    days[2] = day(days[2].date, orders=3, revenue="300.00", cancelled=1)
    days[6] = day(days[6].date, orders=4, revenue="1250.00")
    drawn = chart(days)
    assert len(drawn.bars) == 7
    assert all(bar.y + bar.height == BASE for bar in drawn.bars)
    assert drawn.bars[6].y == TOP + (BASE - TOP) * 0.2  # 4 of an axis up to 5
    assert drawn.bars[2].title == "mié 25 nov: 2 pedidos, $300.00"
    assert drawn.bars[0].height == 0 and drawn.bars[0].title.endswith(": 0 pedidos, $0.00")
    assert [t.label for t in drawn.orders_axis] == ["0", "5"]
    assert [t.label for t in drawn.revenue_axis] == ["$0", "$1,000", "$2,000"]
    assert [(t.label, t.under) for t in drawn.days_axis][:2] == [("lun", "23"), ("mar", "24")]


def test_a_month_labels_every_few_days_ending_today() -> None:
    first = date(2026, 10, 31)
    drawn = chart([day(first + timedelta(days=n), orders=1) for n in range(30)])
    labels = [t.label for t in drawn.days_axis]
    assert labels[-1] == "29 nov" and len(labels) <= 7
    assert labels == ["4 nov", "9 nov", "14 nov", "19 nov", "24 nov", "29 nov"]
