"""The Starlette application: the webhook, health, readiness and metrics.

`create_app` is the composition root: it builds the engine, the tenant directory, the
webhook processor and (unless disabled) the outbox dispatcher, and wires the LISTEN
connection that wakes the dispatcher and invalidates cached shops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatcentral.config import Settings, get_settings
from chatcentral.conversation.service import Clock, ConversationService, utc_now
from chatcentral.db.engine import make_engine
from chatcentral.db.listener import OUTBOX_CHANNEL, TENANTS_CHANNEL, Listener
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.tenancy.directory import TenantDirectory
from chatcentral.webhook.processor import WebhookProcessor
from chatcentral.webhook.routes import receive, verify_handshake
from chatcentral.whatsapp.graph import GraphClient

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers a round trip."""
    engine: AsyncEngine = request.app.state.engine
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up"})


async def metrics(request: Request) -> Response:
    """Prometheus metrics; summed over worker processes when `run --workers N` set
    PROMETHEUS_MULTIPROC_DIR (each process otherwise only knows its own counts)."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    *,
    dispatcher: bool = True,
    graph_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utc_now,
) -> Starlette:
    """Build the app. Without an engine, one is made from DATABASE_URL at start-up."""
    settings = settings or get_settings()
    settings.require("whatsapp_app_secret", "whatsapp_verify_token")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = engine is None
        if engine is None:
            settings.require("database_url")
            assert settings.database_url is not None
            db = make_engine(settings.database_url, settings)
        else:
            db = engine
        directory = TenantDirectory(db)
        app.state.engine = db
        app.state.directory = directory
        app.state.processor = WebhookProcessor(
            db,
            directory,
            ConversationService(mark_read=settings.chatcentral_mark_read, clock=clock),
        )
        graph = GraphClient(
            settings.whatsapp_api_base_url,
            settings.whatsapp_api_version,
            transport=graph_transport,
        )
        outbox = Dispatcher(db, graph, settings)
        app.state.dispatcher = outbox
        listener = Listener(
            db.url.render_as_string(hide_password=False),
            {TENANTS_CHANNEL: directory.invalidate, OUTBOX_CHANNEL: outbox.wake},
        )
        listener.start()
        app.state.listener = listener
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.run(stop), name="dispatcher") if dispatcher else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                # A dispatcher stuck in a slow send is cancelled: its rows stay pending.
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, timeout=10)
            await listener.stop()
            await graph.aclose()
            if owned:
                await db.dispose()

    routes = [
        Route("/webhook", verify_handshake, methods=["GET"]),
        Route("/webhook", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    return app
