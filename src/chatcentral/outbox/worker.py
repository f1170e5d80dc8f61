"""`chatcentral worker`: the outbox dispatcher as a process of its own (scale-out)."""

from __future__ import annotations

import asyncio
import logging

from chatcentral.config import Settings
from chatcentral.db.engine import make_engine
from chatcentral.db.listener import OUTBOX_CHANNEL, Listener
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient

log = logging.getLogger(__name__)


async def run_worker(url: str, settings: Settings, stop: asyncio.Event) -> None:
    """Dispatch until `stop` is set, woken by NOTIFY on the outbox channel."""
    engine = make_engine(url, settings)
    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    dispatcher = Dispatcher(engine, graph, settings)
    listener = Listener(url, {OUTBOX_CHANNEL: dispatcher.wake})
    listener.start()
    log.info("outbox worker started")
    try:
        await dispatcher.run(stop)
    finally:
        await listener.stop()
        await graph.aclose()
        await engine.dispose()
        log.info("outbox worker stopped")
