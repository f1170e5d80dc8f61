"""Fixtures of the database tier: a dispatcher on the test's database (Graph API calls go
to respx), and the web panel's app in process, reached as http://127.0.0.1 (its cookies
are then not Secure, as in development), with login links pointing at
CHATCENTRAL_PUBLIC_URL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.config import Settings
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient

PUBLIC_URL = "https://panel.example"


@pytest.fixture
async def dispatcher(async_engine: AsyncEngine, settings: Settings) -> AsyncIterator[Dispatcher]:
    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    outbox = Dispatcher(async_engine, graph, settings)
    yield outbox
    await outbox.aclose()
    await graph.aclose()


@pytest.fixture
async def panel_app(settings: Settings, async_engine: AsyncEngine) -> AsyncIterator[Starlette]:
    from chatcentral.app import create_app

    configured = settings.model_copy(update={"chatcentral_public_url": PUBLIC_URL})
    app = create_app(configured, engine=async_engine, dispatcher=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser(panel_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar, like one phone's browser."""
    transport = httpx.ASGITransport(app=panel_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
