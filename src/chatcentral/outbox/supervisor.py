"""Keeping the outbox dispatcher running for good, in `chatcentral run` and `chatcentral
worker` alike."""

from __future__ import annotations

import asyncio
import logging
import time

from chatcentral.metrics import DISPATCHER_RESTARTS
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.outbox.pacing import Backoff, pause

log = logging.getLogger(__name__)


class Supervisor:
    """Keeps a dispatcher running until `stop`: if its `run` raises or returns early, the
    supervisor logs it, counts it in chatcentral_dispatcher_restarts_total and starts it
    again after a short pause (0.5 s doubling to 5 s while it keeps failing at once).

    `Dispatcher.run` already survives database trouble; this is the net for everything
    else (a bug), so that no failure leaves a process that takes webhooks but sends nothing.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._task: asyncio.Task[None] | None = None
        self._restarting = False

    @property
    def running(self) -> bool:
        """Whether the dispatcher is running now (for /readyz)."""
        return self._task is not None and not self._task.done() and not self._restarting

    def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """Run `run(stop)` as a task of its own (`running` follows that task)."""
        self._task = asyncio.create_task(self.run(stop), name="dispatcher")
        return self._task

    async def run(self, stop: asyncio.Event) -> None:
        crashes = Backoff()
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._dispatcher.run(stop)
            except Exception:
                log.exception("outbox dispatcher crashed; restarting it")
            else:
                if stop.is_set():
                    return
                log.error("outbox dispatcher returned before being stopped; restarting it")
            if time.monotonic() - started > crashes.cap:
                crashes.reset()  # it had been running fine: this is a new story
            self._restarting = True
            try:
                await pause(crashes.next(), stop)
            finally:
                self._restarting = False
            if not stop.is_set():
                DISPATCHER_RESTARTS.inc()
