"""Who is due a refill reminder, and why (or why not): pure, no database, no clock.

A customer's usual interval is the median of the gaps between their recent orders
(cancelled ones do not count), so it needs at least two orders. They are due once that
interval has passed since their last order, and then at most once per interval: a
reminder is not repeated until a whole interval has passed since the last one
(`customers.last_reminded_at`). Never to a customer who said "no más recordatorios", nor
while an order they placed in the last two days is still open. The shop's business hours
are checked by the job (a closed shop sends no reminder at all).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

# Orders looked at (newest first): the usual interval follows recent habits.
RECENT_ORDERS = 6
# Two orders on one day (a correction, a forgotten item) do not make a customer due daily.
MIN_INTERVAL = timedelta(days=1)
# An order still open holds reminders back only this long after it was placed: a shop that
# never marks its orders delivered does not silence its reminders for good.
IN_PROGRESS_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class History:
    """What the policy needs to know about one customer."""

    order_times: tuple[datetime, ...]  # not cancelled, newest first
    last_reminded_at: datetime | None
    opted_out: bool
    order_in_progress: bool  # an order placed within IN_PROGRESS_WINDOW still open


@dataclass(frozen=True)
class Verdict:
    due: bool
    reason: str  # for people: the dry run prints it
    interval: timedelta | None = None
    due_at: datetime | None = None


def usual_interval(order_times: Sequence[datetime]) -> timedelta | None:
    """The median gap between the recent orders (newest first), at least MIN_INTERVAL;
    None with fewer than two orders."""
    recent = sorted(order_times[:RECENT_ORDERS], reverse=True)
    if len(recent) < 2:
        return None
    gaps = [(newer - older).total_seconds() for newer, older in itertools.pairwise(recent)]
    return max(timedelta(seconds=statistics.median(gaps)), MIN_INTERVAL)


def verdict(history: History, now: datetime, zone: tzinfo | None = None) -> Verdict:
    """Whether to remind this customer now, with the reason either way (its moments
    written in `zone`, the shop's)."""

    def when(moment: datetime) -> str:
        return f"{moment.astimezone(zone) if zone else moment:%Y-%m-%d %H:%M}"

    if history.opted_out:
        return Verdict(False, "opted out (no más recordatorios)")
    interval = usual_interval(history.order_times)
    if interval is None:
        return Verdict(False, f"{len(history.order_times)} order(s); 2 needed for a usual interval")
    last_order = max(history.order_times)
    due_at = last_order + interval
    if history.order_in_progress:
        return Verdict(False, "an order is in progress", interval, due_at)
    if now < due_at:
        return Verdict(False, f"not yet: due {when(due_at)}", interval, due_at)
    reminded = history.last_reminded_at
    if reminded is not None and reminded > now - interval:
        again = max(reminded + interval, due_at)
        return Verdict(
            False, f"reminded {when(reminded)}; not again before {when(again)}", interval, again
        )
    days = _days(interval)
    return Verdict(True, f"due: orders every {days}, last {when(last_order)}", interval, due_at)


def _days(interval: timedelta) -> str:
    days = interval.total_seconds() / 86400
    return f"{days:.1f} days" if days % 1 else f"{int(days)} days"
