"""LISTEN/NOTIFY on a dedicated connection, so waiting processes wake without polling hard.

The connection is separate from the pool (a listening connection is session state that
transaction pooling cannot carry): behind PgBouncer in transaction mode its URL is
CHATCENTRAL_LISTEN_URL, straight to PostgreSQL (`bootstrap.py`). It reconnects with
backoff if the server goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from chatcentral.db.engine import plain_url

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "chatcentral_outbox"
TENANTS_CHANNEL = "chatcentral_tenants"
# Inbound media to fetch; the payload is the shop's schema (tenant migration t0006).
MEDIA_CHANNEL = "chatcentral_media"

Callback = Callable[[str], None]

# Reconnect soon after a restart of the server (seconds), without hammering it.
RETRY_FIRST_S = 0.5
RETRY_CAP_S = 5.0
# A connection that only waits never notices a silently dead peer without TCP keepalives
# (libpq ignores these on Unix sockets): about a minute at most, here.
_KEEPALIVES = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}

_NAME = {"application_name": "chatcentral-listener"}


class Listener:
    """Calls `callbacks[channel](payload)` for every notification until stopped."""

    def __init__(self, url: str, callbacks: dict[str, Callback]) -> None:
        conninfo = plain_url(url)
        # Named, so that operators (and the tests) see where this session went.
        named = {} if "application_name" in conninfo_to_dict(conninfo) else _NAME
        self._conninfo = make_conninfo(conninfo, **_KEEPALIVES, **named)
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
        delay = RETRY_FIRST_S
        reconnecting = False
        while True:
            try:
                await self._listen(catch_up=reconnecting)
            except Exception as exc:  # noqa: BLE001 - whatever it was, listen again
                log.warning("listener lost its connection (%s); retrying", type(exc).__name__)
            if self.connected.is_set():
                # It had been listening: this is a new outage, so retry soon again.
                delay = RETRY_FIRST_S
            self.connected.clear()
            reconnecting = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP_S)

    async def _listen(self, *, catch_up: bool) -> None:
        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
            for channel in self._callbacks:
                await conn.execute(f'LISTEN "{channel}"')
            self.connected.set()
            if catch_up:
                # Whatever was notified while we were away is lost: now that nothing more
                # can be missed, wake everyone once to catch up.
                for wake in self._callbacks.values():
                    _call(wake, "")
            async for notice in conn.notifies():
                callback = self._callbacks.get(notice.channel)
                if callback is not None:
                    _call(callback, notice.payload)


def _call(callback: Callback, payload: str) -> None:
    # A failing callback must not take the connection (and every other channel) down.
    try:
        callback(payload)
    except Exception:
        log.exception("listener callback failed")
