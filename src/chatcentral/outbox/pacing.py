"""Waiting well: backoff while something is away, a pause that an event cuts short, and
the pace of sends per business number (Meta's throughput tier)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

# While the database is away: retry soon (a restart takes seconds), never hammer it.
DB_RETRY_FIRST_S = 0.5
DB_RETRY_CAP_S = 5.0
# Meta's throughput tier per business number (whatsapp-cloud-api.md §10): 80 messages/s
# unless the shop's settings say `throughput_mps` (Meta raises it up to 1,000).
DEFAULT_MPS = 80.0
MAX_MPS = 1000.0


class Backoff:
    """Pauses that double from `first` up to `cap`, back to `first` after `reset()`."""

    def __init__(self, first: float = DB_RETRY_FIRST_S, cap: float = DB_RETRY_CAP_S) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return float(min(self.first * 2 ** (self.failures - 1), self.cap))

    def reset(self) -> None:
        self.failures = 0


async def pause(seconds: float, *events: asyncio.Event) -> None:
    """Sleep `seconds`, or less if any of `events` is set meanwhile."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


class Pacer:
    """Send slots per business number: booked at least 1/mps apart, so no one-second
    window ever holds more than `mps` of them (Meta answers 130429 above the tier).

    Booked slots are kept by sleeping until them, and a busy event loop wakes sleepers
    late and together: `admit`, asked right before each call goes out, holds back any
    call that would make more than `mps` starts in the last second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._next: dict[str, float] = {}
        self._started: dict[str, deque[float]] = {}

    def book(self, number: str, mps: float) -> float:
        """Book the next send on `number`; return the seconds to wait before it starts."""
        now = self._clock()
        start = max(now, self._next.get(number, now))
        # A hair over 1/mps: float rounding never squeezes mps + 1 starts into a second.
        self._next[number] = start + (1.0 + 1e-9) / mps
        if len(self._next) > 10_000:  # numbers idle for a while have nothing booked
            self._next = {n: t for n, t in self._next.items() if t > now}
            self._started = {n: self._started[n] for n in self._next if n in self._started}
        return start - now

    def admit(self, number: str, mps: float) -> float:
        """0 if a call on `number` may start now (it is counted as started), else the
        seconds until the oldest start of the last second leaves the window."""
        now = self._clock()
        started = self._started.setdefault(number, deque())
        while started and started[0] <= now - 1.0:
            started.popleft()
        if len(started) < math.floor(mps):
            started.append(now)
            return 0.0
        return started[0] + 1.0 - now + 1e-6
