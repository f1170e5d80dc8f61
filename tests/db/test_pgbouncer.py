"""The webhook path, the dispatcher and the CLI through Debian's PgBouncer in transaction
mode: server-side prepared statements off (CHATCENTRAL_DB_PREPARED_STATEMENTS=false, what
PgBouncer before 1.21 needs) and the LISTEN connection straight to PostgreSQL
(CHATCENTRAL_LISTEN_URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.app import create_app
from chatcentral.cli import main
from chatcentral.config import Settings, get_settings
from chatcentral.db.driver import driver_of
from chatcentral.db.engine import make_engine
from tests.conftest import ProvisionedShop
from tests.db.test_conversation import grocery_cart
from tests.db.test_dispatcher import post
from tests.db.test_dispatcher_faults import eventually
from tests.db.test_logs import sends
from tests.support import cloud
from tests.support.conversation import Customer
from tests.support.pgbouncer import Bouncer, pgbouncer_binary, start_pgbouncer


@pytest.fixture(scope="session")
def pgbouncer(pg_admin_url: str) -> Iterator[Bouncer]:
    """One pgbouncer (transaction pooling) for the session, in front of the tests' server."""
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip("pgbouncer is not installed (`make install` installs Debian's package)")
    bouncer = start_pgbouncer(binary, pg_admin_url)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def bounced(settings: Settings, db_url: str, pgbouncer: Bouncer) -> Settings:
    """This test's settings with the database behind PgBouncer and LISTEN direct."""
    return settings.model_copy(
        update={
            "database_url": pgbouncer.url_for(db_url),
            "chatcentral_listen_url": db_url,
            "chatcentral_db_prepared_statements": False,
        }
    )


@pytest.fixture
async def bounced_engine(bounced: Settings) -> AsyncIterator[AsyncEngine]:
    assert bounced.database_url is not None
    engine = make_engine(bounced.database_url, bounced)
    yield engine
    await engine.dispose()


def console(bouncer: Bouncer, command: str) -> list[dict[str, Any]]:
    """The rows of an admin console command (`SHOW STATS`, `SHOW CLIENTS`)."""
    with psycopg.connect(bouncer.admin_url(), autocommit=True) as admin:
        cursor = admin.execute(command)
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def transactions_through(bouncer: Bouncer, db_url: str) -> int:
    """Transactions PgBouncer has passed to this database so far (`SHOW STATS`)."""
    database = bouncer.url_for(db_url).rsplit("/", 1)[1]
    for stats in console(bouncer, "SHOW STATS"):
        if stats["database"] == database:
            return int(stats["total_xact_count"])
    return 0


def applications_through(bouncer: Bouncer) -> set[str]:
    """The application names of PgBouncer's clients right now (`SHOW CLIENTS`)."""
    return {str(client["application_name"]) for client in console(bouncer, "SHOW CLIENTS")}


@respx.mock
async def test_an_order_from_hola_to_placed_and_sent_through_pgbouncer(
    bounced: Settings,
    bounced_engine: AsyncEngine,
    sync_engine: Engine,
    shops: dict[str, ProvisionedShop],
    pgbouncer: Bouncer,
    db_url: str,
) -> None:
    # The setting reaches psycopg: nothing is ever prepared on a server connection.
    async with bounced_engine.connect() as bouncing:
        assert (await driver_of(bouncing)).prepare_threshold is None
    before = transactions_through(pgbouncer, db_url)

    graph: list[httpx.Request] = []
    sends(graph)
    app = create_app(bounced, engine=bounced_engine, dispatcher=True)
    async with app.router.lifespan_context(app):
        listener = app.state.listener
        # LISTEN on the direct URL: through transaction pooling it would never hear a thing.
        await asyncio.wait_for(listener.connected.wait(), timeout=10)
        with sync_engine.connect() as conn:
            listening = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'chatcentral-listener' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        assert listening == 1
        clients = applications_through(pgbouncer)
        assert "chatcentral" in clients and "chatcentral-listener" not in clients
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ana = Customer(client, sync_engine, "1110001")
            await ana.says("hola")
            # Every statement of the message path runs far more than psycopg's five times
            # before it would prepare: with preparing on, this conversation would fail.
            await grocery_cart(ana)
            await ana.taps(1)  # Finalizar pedido
            await ana.taps(1)  # Entrega a domicilio
            await ana.shares_location(19.4326, -99.1332, "Casa", "Av. Reforma 222")
            await ana.taps(1)  # Efectivo
            await ana.says("300")
            await ana.says("Tocar el timbre")
            await ana.taps(1)  # Confirmar
            with sync_engine.connect() as conn:
                total = conn.execute(text("SELECT total FROM tenant_tienda.orders")).scalar_one()
            assert str(total) == "261.50"

            def everything_sent() -> bool:
                with sync_engine.connect() as conn:
                    left = conn.execute(
                        text("SELECT count(*) FROM central.outbox WHERE status <> 'sent'")
                    ).scalar()
                return left == 0 and len(graph) > 0

            await eventually(everything_sent, "the dispatcher to send every reply")
            # Meta's news about what was sent: the status path runs in autocommit.
            with sync_engine.connect() as conn:
                wamids = list(
                    conn.execute(
                        text(
                            "SELECT wamid FROM tenant_tienda.messages "
                            "WHERE direction = 'out' AND wamid IS NOT NULL"
                        )
                    ).scalars()
                )
            for wamid in wamids:
                await post(
                    client,
                    cloud.envelope(
                        cloud.change(
                            "1110001",
                            statuses=[
                                cloud.status(wamid, "delivered", ts=2),
                                cloud.status(wamid, "read", ts=3),
                            ],
                        )
                    ),
                )

    # Every reply was sent, and Meta's news about each was recorded.
    with sync_engine.connect() as conn:
        inbound = conn.execute(
            text("SELECT count(*) FROM tenant_tienda.messages WHERE direction = 'in'")
        ).scalar_one()
        read = conn.execute(
            text(
                "SELECT count(*) FROM tenant_tienda.messages "
                "WHERE direction = 'out' AND status = 'read'"
            )
        ).scalar_one()
    assert inbound >= 15
    assert len(wamids) >= inbound  # a reply (or more) to each, the admin's notice too
    assert read == len(wamids)
    # ... and all of it went through PgBouncer.
    assert transactions_through(pgbouncer, db_url) - before > 2 * inbound


def test_the_cli_migrates_and_lists_shops_through_pgbouncer(
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    pgbouncer: Bouncer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", pgbouncer.url_for(cli_env))
    monkeypatch.setenv("CHATCENTRAL_DB_PREPARED_STATEMENTS", "false")
    for name in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN"):
        monkeypatch.setenv(name, "set")  # so that `check` passes as a whole
    get_settings.cache_clear()
    before = transactions_through(pgbouncer, cli_env)
    # Twice each: the second run gets server connections the first one's clients used.
    for _ in range(2):
        assert main(["migrate", "--workers", "2"]) == 0
        assert main(["tenant", "list"]) == 0
        assert main(["check", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "tenants: 0 upgraded, 2 already current, 0 failed" in out
    assert "tienda" in out and "agua" in out
    assert "reachable; central schema at head" in out and f":{pgbouncer.port} " in out
    assert transactions_through(pgbouncer, cli_env) > before
