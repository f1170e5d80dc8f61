"""The geometry of the Estadísticas chart: one bar per day for the orders, a line for the
revenue, both axes labelled. Numbers only; `stats.html` draws them as an inline SVG (no
script, no style attribute: the CSP allows neither), and the viewBox makes it fit a phone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from chatcentral.orders.stats import Day

WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 30, 50, 14, 34  # room for the axes' labels
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BASE = TOP + PLOT_H  # the x axis
BAR_SHARE = 0.7  # of each day's slot; the rest is the gap between bars
WEEKDAYS = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")
MONTHS = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")
X_LABELS = 7  # at most this many day labels under the axis


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    center: float
    title: str  # the day's numbers, shown on hover and read by screen readers


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str
    under: str = ""  # a second line: the day of the month under a weekday


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    right: float
    top: int
    base: float
    bars: list[Bar]
    line: str  # the revenue polyline's points
    dots: list[tuple[float, float]]
    orders_axis: list[Tick]  # left, y
    revenue_axis: list[Tick]  # right, y
    days_axis: list[Tick]  # under the bars, x


def orders_of(day: Day) -> int:
    """The orders that count: a cancelled one is neither sold nor shown as a bar."""
    return day.orders - day.cancelled


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ at or above `value` (1 for nothing), so that the
    axis reads in round numbers."""
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def long_date(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def _pesos(value: float) -> str:
    return f"${value:,.0f}"


def _y(value: float, top: float) -> float:
    return round(BASE - PLOT_H * value / top, 2)


def chart(days: list[Day]) -> Chart:
    slot = PLOT_W / len(days)
    top_orders = nice_ceiling(max(orders_of(day) for day in days))
    top_revenue = nice_ceiling(float(max(day.revenue for day in days)))
    bars, dots = [], []
    for index, day in enumerate(days):
        center = round(LEFT + slot * (index + 0.5), 2)
        count = orders_of(day)
        y = _y(count, top_orders)
        width = round(slot * BAR_SHARE, 2)
        title = f"{long_date(day.date)}: {count} pedido{'' if count == 1 else 's'}, "
        title += f"${day.revenue:,.2f}"
        bars.append(Bar(round(center - width / 2, 2), y, width, round(BASE - y, 2), center, title))
        dots.append((center, _y(float(day.revenue), top_revenue)))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=LEFT + PLOT_W,
        top=TOP,
        base=BASE,
        bars=bars,
        line=" ".join(f"{x},{y}" for x, y in dots),
        dots=dots,
        orders_axis=_axis(top_orders, lambda v: f"{v:,.0f}"),
        revenue_axis=_axis(top_revenue, _pesos),
        days_axis=_days_axis(days, bars),
    )


def _axis(top: float, label: Callable[[float], str]) -> list[Tick]:
    """Zero, the middle and the top; the middle left out where it would be half an order
    (or half a peso)."""
    values = [0.0, top / 2, top]
    if not values[1].is_integer():
        values.pop(1)
    return [Tick(_y(value, top), label(value)) for value in values]


def _days_axis(days: list[Day], bars: list[Bar]) -> list[Tick]:
    """Every day of a week (weekday over day), or every few days of a longer period,
    counted back from today so that today always has its label."""
    every = -(-len(days) // X_LABELS)
    weekly = len(days) <= X_LABELS
    last = len(days) - 1
    ticks = []
    for i in range(last, -1, -every):
        when = days[i].date
        if weekly:
            ticks.append(Tick(bars[i].center, WEEKDAYS[when.weekday()], str(when.day)))
        else:
            ticks.append(Tick(bars[i].center, f"{when.day} {MONTHS[when.month - 1]}"))
    return ticks[::-1]
