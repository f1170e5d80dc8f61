"""The dispatcher's per-number pacing, on a fake clock: never above the number's tier in
any one-second window, numbers paced independently, a claimed row's pace and share."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime

from chatcentral.outbox.pacing import DEFAULT_MPS, MAX_MPS, Pacer
from chatcentral.outbox.rows import Claimed


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def busiest_second(starts: list[float]) -> int:
    """The most starts in any half-open one-second window [t, t + 1)."""
    starts = sorted(starts)
    return max(bisect.bisect_left(starts, t + 1.0) - i for i, t in enumerate(starts))


def schedule(pacer: Pacer, clock: FakeClock, number: str, mps: float, n: int) -> list[float]:
    return [clock.now + pacer.book(number, mps) for _ in range(n)]


def test_a_burst_is_spread_at_the_tier_never_above_it() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    starts = schedule(pacer, clock, "111", DEFAULT_MPS, 1000)
    assert busiest_second(starts) == 80
    assert starts[0] == clock.now  # the first goes at once
    assert starts[-1] - starts[0] < 999 / 80 + 1e-6  # and no slower than the tier


def test_numbers_are_paced_independently() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    a = schedule(pacer, clock, "111", 80, 200)
    b = schedule(pacer, clock, "222", 1000, 2000)
    assert busiest_second(a) == 80 and busiest_second(b) == 1000
    assert b[-1] - clock.now < 2.0  # the big number is not held back by the small one


def test_pace_holds_as_time_passes_and_idle_time_is_not_banked() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    starts: list[float] = []
    for step in range(300):  # sends asked for at 200/s for 1.5 s, then a pause, then more
        clock.now = 1000.0 + (step if step < 150 else step + 500) * 0.005
        starts.append(clock.now + pacer.book("111", 80))
    assert busiest_second(starts) <= 80
    # After the pause the first send goes at once, and no burst above the tier follows.
    assert min(s for s in starts if s >= 1000.0 + 650 * 0.005) == 1000.0 + 650 * 0.005


def test_a_shops_tier_comes_from_its_settings_within_metas_bounds() -> None:
    def row(mps: float | None) -> Claimed:
        return Claimed(
            1, 1, "message", "r", {}, None, 0, "s", "111", None, "shop",
            datetime.now(UTC), throughput_mps=mps,
        )  # fmt: skip

    assert row(None).mps == DEFAULT_MPS == 80
    assert row(250).mps == 250
    assert row(5000).mps == MAX_MPS
    assert row(0).mps == DEFAULT_MPS  # 0 is no setting
    assert row(0.2).mps == 1.0


def test_sends_woken_late_together_are_held_to_the_tier() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    booked = schedule(pacer, clock, "111", 80, 240)  # three seconds of slots
    # The event loop was busy: every sleeper of the first 1.5 s wakes at once, at 1.5 s.
    clock.now += 1.5
    starts: list[float] = []
    for slot in booked:
        clock.now = max(clock.now, slot)
        while (wait := pacer.admit("111", 80)) > 0:
            clock.now += wait
        starts.append(clock.now)
    assert busiest_second(starts) == 80
    # Without the window the late wakers would have gone together: 120 in one instant.
    assert busiest_second([max(slot, 1001.5) for slot in booked]) > 80
