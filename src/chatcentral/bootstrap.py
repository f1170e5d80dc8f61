"""Wiring, done once: the engine, the tenant directory, the webhook processor, the Graph
API client, the outbox dispatcher under its supervisor, the media store and job, and the
LISTEN connection that wakes the dispatcher and the media job and drops cached shops.
`chatcentral run` (through `app.py`) and `chatcentral worker` both start here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral import heap
from chatcentral.config import Settings
from chatcentral.db.engine import make_engine
from chatcentral.db.listener import (
    MEDIA_CHANNEL,
    OUTBOX_CHANNEL,
    TENANTS_CHANNEL,
    Callback,
    Listener,
)
from chatcentral.handoffs import timeouts
from chatcentral.inbound.service import Clock, ConversationService, utc_now
from chatcentral.incidents.journal import Incidents
from chatcentral.incidents.watch import Watch
from chatcentral.media.job import MediaJob
from chatcentral.media.store import Store, make_store
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.outbox.supervisor import Supervisor
from chatcentral.reminders.job import ReminderJob
from chatcentral.retention.job import RetentionJob
from chatcentral.tenancy.directory import TenantDirectory
from chatcentral.webhook.processor import WebhookProcessor
from chatcentral.whatsapp.graph import GraphClient

log = logging.getLogger(__name__)

# How long a dispatcher stuck in a slow send gets to finish at shutdown; then it is
# cancelled and its rows come back when their lease ends.
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Services:
    """What a running process holds: one engine and one pool for every shop."""

    settings: Settings
    engine: AsyncEngine
    directory: TenantDirectory
    processor: WebhookProcessor
    dispatcher: Dispatcher
    supervisor: Supervisor | None  # None when this process does not send
    listener: Listener
    media_store: Store  # S3 or the data dir: where inbound media are kept
    media_job: MediaJob | None  # None when this process does not fetch media


# Files a process needs besides one connection per send in flight: the pool's connections,
# the listener's, the web server's clients, logs.
OPEN_FILES_SPARE = 512


def allow_open_files(needed: int) -> None:
    """Raise this process's soft limit on open files to `needed` (within the hard limit):
    each send in flight holds a connection, and a shell's usual soft limit of 1,024 is
    below the default pipeline plus its pool."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "open files limited to %d (hard limit); CHATCENTRAL_SEND_CONCURRENCY needs about "
            "%d: raise the hard limit (LimitNOFILE) or lower the concurrency",
            target,
            needed,
        )


@contextlib.asynccontextmanager
async def services(
    settings: Settings,
    engine: AsyncEngine | None = None,
    *,
    dispatcher: bool = True,
    clock: Clock = utc_now,
) -> AsyncIterator[Services]:
    """Build and start everything; stop and close it on the way out. Without an engine,
    one is made from DATABASE_URL (and disposed of at the end)."""
    owned = engine is None
    if engine is None:
        settings.require("database_url")
        assert settings.database_url is not None
        engine = make_engine(settings.database_url, settings)
    directory = TenantDirectory(engine)
    incidents = Incidents(engine, settings)
    conversations = ConversationService(
        mark_read=settings.chatcentral_mark_read, clock=clock, incidents=incidents
    )
    sends = settings.chatcentral_send_concurrency
    if dispatcher:
        allow_open_files(sends + OPEN_FILES_SPARE)
    graph = GraphClient(
        settings.whatsapp_api_base_url,
        settings.whatsapp_api_version,
        connections=sends,  # a reply, then its mark-read, one after the other on a slot
    )
    media_store = make_store(settings)
    outbox = Dispatcher(
        engine, graph, settings, batch_size=sends, incidents=incidents, store=media_store
    )
    # Inbound media are fetched where the dispatcher runs (0 turns it off there).
    media_job = (
        MediaJob(engine, graph, media_store, settings, incidents=incidents)
        if dispatcher and settings.chatcentral_media_interval_s > 0
        else None
    )
    channels: dict[str, Callback] = {
        TENANTS_CHANNEL: directory.invalidate,
        OUTBOX_CHANNEL: outbox.wake,
    }
    if media_job is not None:
        channels[MEDIA_CHANNEL] = media_job.wake
    # LISTEN needs a session: behind PgBouncer in transaction mode it goes straight to
    # PostgreSQL (CHATCENTRAL_LISTEN_URL); otherwise the engine's own server.
    listen_url = settings.chatcentral_listen_url or engine.url.render_as_string(hide_password=False)
    listener = Listener(listen_url, channels)
    running = Services(
        settings=settings,
        engine=engine,
        directory=directory,
        processor=WebhookProcessor(engine, directory, conversations),
        dispatcher=outbox,
        supervisor=Supervisor(outbox) if dispatcher else None,
        listener=listener,
        media_store=media_store,
        media_job=media_job,
    )
    listener.start()
    stop = asyncio.Event()
    task = running.supervisor.start(stop) if running.supervisor is not None else None
    # Refill reminders: where the dispatcher runs, every few minutes (0 turns them off).
    reminders = None
    if running.supervisor is not None and settings.chatcentral_reminders_interval_s > 0:
        job = ReminderJob(engine, settings.chatcentral_reminders_interval_s, clock)
        reminders = job.start(stop)
    # Retention: message bodies past CHATCENTRAL_RETENTION_DAYS, daily, where the dispatcher runs.
    retention = None
    if running.supervisor is not None and settings.chatcentral_retention_days:
        retention = RetentionJob(
            engine, settings.chatcentral_retention_days, clock, store=media_store
        ).start(stop)
    # Handoffs nobody answered in time: where the dispatcher runs (0 turns it off).
    handoff_timeouts = None
    if running.supervisor is not None and settings.chatcentral_handoff_check_s > 0:
        handoff_timeouts = asyncio.create_task(
            timeouts.run(engine, stop, clock, settings.chatcentral_handoff_check_s),
            name="handoff-timeouts",
        )
    media = media_job.start(stop) if media_job is not None else None
    # The watch (outbox depth and age, open handoffs, "replies are not leaving"): where the
    # dispatcher runs (0 turns it off).
    watch = None
    if running.supervisor is not None and settings.chatcentral_watch_interval_s > 0:
        watch = Watch(
            engine,
            incidents,
            settings.chatcentral_watch_interval_s,
            settings.chatcentral_alert_outbox_age_s,
        ).start(stop)
    try:
        yield running
    finally:
        stop.set()
        for background in (media, watch):
            if background is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(background, timeout=STOP_TIMEOUT_S)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=STOP_TIMEOUT_S)
        if handoff_timeouts is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(handoff_timeouts, timeout=STOP_TIMEOUT_S)
        if reminders is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(reminders, timeout=STOP_TIMEOUT_S)
        if retention is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(retention, timeout=STOP_TIMEOUT_S)
        await listener.stop()
        await graph.aclose()
        await outbox.aclose()
        if owned:
            await engine.dispose()


async def run_worker(url: str, settings: Settings, stop: asyncio.Event) -> None:
    """`chatcentral worker`: the dispatcher alone (scale-out), until `stop` is set."""
    engine = make_engine(url, settings)
    try:
        async with services(settings, engine):
            heap.settle()
            log.info("outbox worker started")
            await stop.wait()
    finally:
        await engine.dispose()
        log.info("outbox worker stopped")
