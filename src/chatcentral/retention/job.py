"""The daily retention pass, beside the outbox dispatcher (`bootstrap.services`), when
CHATCENTRAL_RETENTION_DAYS is set. Every process that sends runs it; the passes are
idempotent (an erased body is skipped), so two at once cost time, not data."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.media.store import Store
from chatcentral.retention.purge import purge

log = logging.getLogger(__name__)

DAILY_S = 24 * 3600.0


class RetentionJob:
    """`purge` of what is older than `days`, now and then every `interval` seconds, until
    stopped; never dies of a failed pass."""

    def __init__(
        self,
        engine: AsyncEngine,
        days: int,
        clock: Callable[[], datetime],
        interval: float = DAILY_S,
        store: Store | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._period = timedelta(days=days)
        self._clock = clock
        self._interval = interval

    def start(self, stop: asyncio.Event) -> asyncio.Task[Any]:
        return asyncio.create_task(self._loop(stop), name="retention")

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                cutoff = self._clock() - self._period
                report = await purge(self._engine, cutoff, store=self._store)
                erased = sum(shop.messages for shop in report.shops)
                log.info(
                    "retention: %d message bodies older than %s erased in %d shop(s)",
                    erased,
                    f"{report.cutoff:%Y-%m-%d}",
                    len(report.shops),
                )
            except Exception:
                log.exception("retention: pass failed; next in %.0f s", self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
