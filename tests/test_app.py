"""Health and readiness endpoints."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chatcentral.app import create_app
from chatcentral.config import Settings


async def _get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_healthz_and_readyz_with_a_database(
    settings: Settings, async_engine: AsyncEngine
) -> None:
    app = create_app(settings, engine=async_engine)
    async with app.router.lifespan_context(app):
        health = await _get(app, "/healthz")
        ready = await _get(app, "/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["database"] == "up"


async def test_readyz_is_503_when_the_database_is_down(settings: Settings) -> None:
    # Nothing listens on port 1: the round trip fails fast.
    dead = create_async_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    app = create_app(settings, engine=dead)
    async with app.router.lifespan_context(app):
        health = await _get(app, "/healthz")
        ready = await _get(app, "/readyz")
    await dead.dispose()
    assert health.status_code == 200
    assert ready.status_code == 503 and ready.json()["database"] == "down"
