"""Shared fixtures: one real PostgreSQL per test session, a fresh database per test.

With DATABASE_URL set, that server is used (the role needs CREATEDB); otherwise an
embedded PostgreSQL 18 starts in a temporary folder and is deleted at the end.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import respx.mocks
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.config import Settings, get_settings, load_settings
from chatcentral.db.databases import drop_database, recreate_database
from chatcentral.db.embedded import start_embedded
from chatcentral.db.engine import make_engine, make_sync_engine
from chatcentral.db.migrations import upgrade_central
from chatcentral.simulator.fake_cloud import FakeCloud
from tests.support.dbproxy import DatabaseProxy
from tests.support.respx_graph import GraphMocker

# respx intercepts at each httpx client (their transport is aiohttp's, not httpcore's
# pool) and at the Graph client's own sends on aiohttp (tests/support/respx_graph.py).
respx.mocks.DEFAULT_MOCKER = GraphMocker.name
# ... and so it sees the tests' own clients of the app (http://test, over ASGI): let them by.
respx.mock.route(host="test").pass_through()

REPO = Path(__file__).resolve().parents[1]
APP_SECRET = "test-app-secret"


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = start_embedded(
        tmp_path_factory.mktemp("embedded"), ephemeral=True, database="postgres"
    )
    yield server.admin_url()
    server.stop()


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    """A database with the central schema at head, cloned for each test."""
    name = f"cc_tpl_{os.getpid()}"
    engine = make_sync_engine(recreate_database(pg_admin_url, name))
    with engine.begin() as conn:
        upgrade_central(conn)
    engine.dispose()
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh database of this test's own, central schema already at head."""
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    yield recreate_database(pg_admin_url, name, template=template_db)
    drop_database(pg_admin_url, name)


@pytest.fixture
def sync_engine(db_url: str) -> Iterator[Engine]:
    engine = make_sync_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def async_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings that ignore any developer .env, pointed at this test's database and a data
    dir of its own (media kept by a running worker land there, not in the checkout)."""
    return load_settings(
        _env_file=None,
        database_url=db_url,
        chatcentral_data_dir=tmp_path / "data",
        whatsapp_app_secret=APP_SECRET,
        whatsapp_verify_token="test-verify-token",
        whatsapp_access_token="test-access-token",
        chatcentral_token_key="pHHup6HjPwr7brnoGgfj4UslQelAD1i5bAVA7-5qvgU=",
    )


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Environment for calling the CLI in-process against this test's database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@dataclass(frozen=True)
class ProvisionedShop:
    id: int
    schema: str
    phone_number_id: str


@pytest.fixture
def shops(sync_engine: Engine) -> dict[str, ProvisionedShop]:
    """Two provisioned shops: a grocery store and a water company."""
    from chatcentral.resources import resource_dir
    from chatcentral.tenancy.catalog import read_catalog
    from chatcentral.tenancy.provisioning import provision_tenant
    from tests.support.factories import spec

    catalogs = resource_dir("flows") / "catalogs"
    grocery = provision_tenant(
        sync_engine,
        spec("tienda", "1110001", name="Abarrotes Doña Mary"),
        read_catalog(catalogs / "grocery.csv"),
    )
    water = provision_tenant(
        sync_engine,
        spec("agua", "2220002", flow="water_delivery", name="Agua La Fuente"),
        read_catalog(catalogs / "water_delivery.csv"),
    )
    # Open around the clock, so what the bot says does not depend on when tests run.
    always = {
        day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.tenants SET business_hours = CAST(:h AS jsonb)"),
            {"h": json.dumps(always)},
        )
    return {
        "grocery": ProvisionedShop(grocery.id, grocery.schema, "1110001"),
        "water": ProvisionedShop(water.id, water.schema, "2220002"),
    }


@pytest.fixture
async def app_client(
    settings: Settings, async_engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The real app (dispatcher off: tests drive it) and a client speaking to it in process."""
    from chatcentral.app import create_app

    app = create_app(settings, engine=async_engine, dispatcher=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    """The fake Cloud API on 127.0.0.1, recording every Graph API call it answers."""
    fake = FakeCloud()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def db_proxy(db_url: str) -> Iterator[DatabaseProxy]:
    """This test's database behind a proxy the test can cut to stage an outage."""
    proxy = DatabaseProxy(db_url).start()
    yield proxy
    proxy.close()
