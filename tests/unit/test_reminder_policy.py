"""Who is due a refill reminder: the usual interval (median gap) and the rules around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatcentral.reminders.policy import MIN_INTERVAL, History, usual_interval, verdict

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def ago(*days: float) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(days=d) for d in sorted(days))  # newest first


def history(*days: float, reminded: float | None = None, **flags: bool) -> History:
    return History(
        order_times=ago(*days),
        last_reminded_at=NOW - timedelta(days=reminded) if reminded is not None else None,
        opted_out=flags.get("opted_out", False),
        order_in_progress=flags.get("in_progress", False),
    )


def test_the_usual_interval_is_the_median_gap_of_recent_orders() -> None:
    assert usual_interval(ago(8)) is None
    assert usual_interval(ago(8, 15)) == timedelta(days=7)
    # gaps 7, 7, 20: the median ignores the one long holiday
    assert usual_interval(ago(8, 15, 22, 42)) == timedelta(days=7)
    # only the six latest orders count: the old monthly habit is forgotten
    assert usual_interval(ago(1, 4, 7, 10, 13, 16, 46, 76, 106)) == timedelta(days=3)
    # two orders the same day do not make a daily customer
    assert usual_interval(ago(5, 5.01)) == MIN_INTERVAL


def test_due_once_the_interval_has_passed_since_the_last_order() -> None:
    assert verdict(history(8, 15, 22), NOW).due
    not_yet = verdict(history(3, 10), NOW)
    assert not not_yet.due and not_yet.reason.startswith("not yet: due")
    assert not_yet.due_at == NOW + timedelta(days=4)


def test_never_more_than_one_per_interval() -> None:
    assert not verdict(history(8, 15, reminded=1), NOW).due
    assert not verdict(history(20, 27, reminded=6.9), NOW).due
    assert verdict(history(20, 27, reminded=7.1), NOW).due
    # a reminder from before the last order does not hold the next one back
    assert verdict(history(8, 15, reminded=9), NOW).due


def test_never_to_the_opted_out_or_with_an_order_on_its_way() -> None:
    opted = verdict(history(8, 15, opted_out=True), NOW)
    assert not opted.due and "opted out" in opted.reason
    busy = verdict(history(8, 15, in_progress=True), NOW)
    assert not busy.due and busy.reason == "an order is in progress"


def test_fewer_than_two_orders_is_never_due() -> None:
    result = verdict(history(60), NOW)
    assert not result.due and result.reason == "1 order(s); 2 needed for a usual interval"
    assert not verdict(history(), NOW).due
