"""The watch, where the dispatcher runs: every CHATCENTRAL_WATCH_INTERVAL_S it reads the
outbox's depth and the age of its oldest sendable row (the gauges `/metrics` shows) and
opens an incident while replies are not leaving; every fourth look it counts the
handoffs open across shops."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.db.engine import TenantBinder
from chatcentral.incidents.journal import Incidents
from chatcentral.metrics import HANDOFFS_OPEN, OUTBOX_DEPTH, OUTBOX_OLDEST_S
from chatcentral.models.tenant import Handoff
from chatcentral.outbox import sql
from chatcentral.outbox.pacing import Backoff, pause
from chatcentral.tenancy.directory import load_shops

log = logging.getLogger(__name__)

OUTBOX_AGE = "outbox_age"
HANDOFFS_EVERY = 4

_OPEN_HANDOFFS = (
    select(func.count()).select_from(Handoff).where(Handoff.status.in_(("open", "claimed")))
)


class Watch:
    def __init__(
        self, engine: AsyncEngine, incidents: Incidents, interval_s: float, max_age_s: int
    ) -> None:
        self._engine = engine
        self._incidents = incidents
        self._interval_s = interval_s
        self._max_age_s = max_age_s
        self._looks = 0

    def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        return asyncio.create_task(self.run(stop), name="watch")

    async def run(self, stop: asyncio.Event) -> None:
        trouble = Backoff(first=self._interval_s, cap=max(self._interval_s, 60.0))
        while not stop.is_set():
            try:
                await self.look()
                wait = self._interval_s
                trouble.reset()
            except Exception:  # the database away: the dispatcher's own alerts say so
                wait = trouble.next()
                log.warning("watch: look failed; next in %.0fs", wait, exc_info=True)
            await pause(wait, stop)

    async def look(self) -> None:
        async with self._engine.begin() as conn:
            depth = (await conn.execute(sql.PENDING)).scalar_one()
            oldest = (await conn.execute(sql.OVERDUE, {"max_age": 0})).scalar() or 0.0
        OUTBOX_DEPTH.set(depth)
        OUTBOX_OLDEST_S.set(oldest)
        if oldest > self._max_age_s:
            await self._incidents.trouble(
                OUTBOX_AGE,
                OUTBOX_AGE,
                f"replies are not leaving: a reply has waited {oldest:.0f} s "
                f"(limit {self._max_age_s} s), {depth} pending",
            )
        else:
            await self._incidents.recovered(OUTBOX_AGE, "replies are leaving again")
        if self._looks % HANDOFFS_EVERY == 0:
            HANDOFFS_OPEN.set(await self._open_handoffs())
        self._looks += 1

    async def _open_handoffs(self) -> int:
        total = 0
        async with self._engine.begin() as conn:
            for shop in await load_shops(self._engine):
                tenant = await TenantBinder.bind(conn, shop.schema)
                total += int((await tenant.execute(_OPEN_HANDOFFS)).scalar_one())
        return total
