"""The Starlette application: the webhook, health, readiness, metrics and stored media.

`create_app` builds the routes; at start-up it takes what `bootstrap.services` wires (the
engine, the tenant directory, the webhook processor, the supervised outbox dispatcher and
the LISTEN connection) and keeps it on `app.state` for the handlers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
from starlette.routing import Mount, Route

from chatcentral import heap
from chatcentral.api.routes import PREFIX as API_PREFIX
from chatcentral.api.routes import router as api_router
from chatcentral.bootstrap import services
from chatcentral.config import Settings, get_settings
from chatcentral.inbound.service import Clock, utc_now
from chatcentral.media.serve import serve_media
from chatcentral.outbox import sql
from chatcentral.outbox.supervisor import Supervisor
from chatcentral.panel.requests import PREFIX as PANEL_PREFIX
from chatcentral.panel.routes import router as panel_router
from chatcentral.webhook.routes import receive, verify_handshake

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """The process is up and serving."""
    return JSONResponse({"status": "ok"})


_PING = text("SELECT NULL::float8")
READY_TIMEOUT_S = 5.0


async def readyz(request: Request) -> JSONResponse:
    """Ready to take traffic: the database answers, the dispatcher runs (when this process
    has one) and replies are leaving (no sendable outbox row older than the limit). One
    query; 503 with the reasons otherwise."""
    engine: AsyncEngine = request.app.state.engine
    supervisor: Supervisor | None = request.app.state.supervisor
    settings: Settings = request.app.state.settings
    max_age = settings.chatcentral_ready_max_outbox_age_s
    reasons: list[str] = []
    body: dict[str, object] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), engine.connect() as conn:
            if max_age:
                overdue = (await conn.execute(sql.OVERDUE, {"max_age": max_age})).scalar()
            else:
                overdue = (await conn.execute(_PING)).scalar()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness check failed: %s", type(exc).__name__)
        body["database"] = "down"
        reasons.append("database unreachable")
    else:
        body["database"] = "up"
        if overdue is not None:
            body["outbox_overdue_s"] = round(overdue, 1)
            reasons.append(f"an outbox row has been due for {overdue:.0f}s (limit {max_age}s)")
    if supervisor is None:
        body["dispatcher"] = "off"
    elif supervisor.running:
        body["dispatcher"] = "running"
    else:
        body["dispatcher"] = "stopped"
        reasons.append("outbox dispatcher not running")
    if reasons:
        return JSONResponse({"status": "unavailable", "reasons": reasons, **body}, status_code=503)
    return JSONResponse({"status": "ok", **body})


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
    dispatcher: bool | None = None,
    clock: Clock = utc_now,
    settle_heap: bool = False,
) -> Starlette:
    """Build the app. Without an engine, one is made from DATABASE_URL at start-up; the
    dispatcher runs in it unless `dispatcher` (or CHATCENTRAL_DISPATCHER) says not. With
    `settle_heap` (a server process of its own), the collector is tuned once it has started."""
    settings = settings or get_settings()
    if dispatcher is None:
        dispatcher = settings.chatcentral_dispatcher
    settings.require("whatsapp_app_secret", "whatsapp_verify_token")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with services(settings, engine, dispatcher=dispatcher, clock=clock) as running:
            app.state.engine = running.engine
            app.state.directory = running.directory
            app.state.processor = running.processor
            app.state.dispatcher = running.dispatcher
            app.state.supervisor = running.supervisor
            app.state.listener = running.listener
            app.state.media_store = running.media_store
            if settle_heap:
                heap.settle()
            yield

    routes = [
        Route("/webhook", verify_handshake, methods=["GET"]),
        Route("/webhook", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        # Media of the local store, behind signed expiring links (media/links.py).
        Route("/media/{token}", serve_media, methods=["GET"]),
        Mount(API_PREFIX, app=api_router()),
        Mount(PANEL_PREFIX, app=panel_router()),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    return app


def server_app() -> Starlette:
    """What `chatcentral run` serves (uvicorn's factory, in each worker process)."""
    return create_app(settle_heap=True)
