"""LISTEN/NOTIFY on a dedicated connection, so waiting processes wake without polling hard.

The connection is separate from the pool (a listening connection is session state that
transaction pooling cannot carry); it reconnects with backoff if the server goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg

from chatcentral.db.engine import plain_url

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "chatcentral_outbox"
TENANTS_CHANNEL = "chatcentral_tenants"

Callback = Callable[[str], None]


class Listener:
    """Calls `callbacks[channel](payload)` for every notification until stopped."""

    def __init__(self, url: str, callbacks: dict[str, Callback]) -> None:
        self._url = plain_url(url)
        self._callbacks = callbacks
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                self.connected.clear()
                log.warning("listener lost its connection (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                # Whatever was notified meanwhile is lost: wake everyone once to catch up.
                for callback in self._callbacks.values():
                    callback("")

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            for channel in self._callbacks:
                await conn.execute(f'LISTEN "{channel}"')
            self.connected.set()
            async for notice in conn.notifies():
                callback = self._callbacks.get(notice.channel)
                if callback is not None:
                    callback(notice.payload)
