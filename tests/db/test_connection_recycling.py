"""A pooled connection is replaced once it has served more tenant schemas than
CHATCENTRAL_DB_CONN_MAX_SCHEMAS: each PostgreSQL backend keeps the catalog of every schema
it touched, so this bounds its memory with 1,000 shops."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.config import Settings
from chatcentral.db.driver import SchemaSQL, driver_of
from chatcentral.db.engine import PREPARE_AFTER, PREPARED_PER_SHOP, TenantBinder, make_engine

SCHEMAS = ("shop_a", "shop_b", "shop_c", "shop_d")
# Declared without a schema, as tenant tables are: the binder maps it per shop.
_ITEMS = Table("items", MetaData(), Column("id", Integer, primary_key=True))


def _engine(settings: Settings, max_schemas: int) -> AsyncEngine:
    tuned = settings.model_copy(
        update={
            "chatcentral_db_pool_size": 1,
            "chatcentral_db_max_overflow": 0,
            "chatcentral_db_conn_max_schemas": max_schemas,
        }
    )
    assert tuned.database_url is not None
    return make_engine(tuned.database_url, tuned)


@pytest.fixture
async def schemas(async_engine: AsyncEngine) -> AsyncIterator[tuple[str, ...]]:
    async with async_engine.begin() as conn:
        for schema in SCHEMAS:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
            await conn.execute(text(f"CREATE TABLE {schema}.items (id int PRIMARY KEY)"))
    yield SCHEMAS


async def _backend_in(binder: TenantBinder, schema: str) -> int:
    """Run a statement in `schema` on the pool's one connection; that connection's backend."""
    async with binder.engine_for(schema).connect() as conn:
        await conn.execute(select(_ITEMS))
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_is_replaced_after_serving_more_schemas_than_the_limit(
    settings: Settings, schemas: tuple[str, ...]
) -> None:
    engine = _engine(settings, max_schemas=2)
    binder = TenantBinder(engine)
    try:
        first = await _backend_in(binder, schemas[0])
        # The same schema again and a second one: within the limit, the same backend.
        assert await _backend_in(binder, schemas[0]) == first
        assert await _backend_in(binder, schemas[1]) == first
        # A third schema runs on it, and that checkout is its last.
        assert await _backend_in(binder, schemas[2]) == first
        second = await _backend_in(binder, schemas[3])
        assert second != first
        async with engine.connect() as conn:
            alive = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": first},
                )
            ).scalar_one()
        assert alive == 0  # the old backend (and its caches) is gone, not just set aside
        # The count starts again on the new connection.
        assert await _backend_in(binder, schemas[0]) == second
    finally:
        await engine.dispose()


async def test_statements_outside_tenant_schemas_do_not_count(
    settings: Settings, schemas: tuple[str, ...]
) -> None:
    engine = _engine(settings, max_schemas=1)
    try:
        pids = set()
        for _ in range(5):
            async with engine.connect() as conn:
                pids.add((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        assert len(pids) == 1
    finally:
        await engine.dispose()


async def test_zero_turns_the_limit_off(settings: Settings, schemas: tuple[str, ...]) -> None:
    engine = _engine(settings, max_schemas=0)
    binder = TenantBinder(engine)
    try:
        pids = {await _backend_in(binder, schema) for schema in schemas * 2}
        assert len(pids) == 1
    finally:
        await engine.dispose()


async def test_the_message_paths_driver_statements_count_too(
    settings: Settings, schemas: tuple[str, ...]
) -> None:
    """The hot path runs its SQL on the psycopg connection (db/driver.py), not through
    SQLAlchemy's execute: the schemas it serves must count all the same."""
    engine = _engine(settings, max_schemas=1)
    binder = TenantBinder(engine)

    async def driver_backend(schema: str) -> int:
        async with binder.engine_for(schema).connect() as conn:
            pg = await driver_of(conn)
            statement = SchemaSQL(
                "SELECT pg_backend_pid() FROM {schema}.items RIGHT JOIN (SELECT 1) o ON true"
            )
            row = await (await pg.execute(statement.text(schema))).fetchone()
            await pg.rollback()
            assert row is not None
            return int(row[0])

    try:
        first = await driver_backend(schemas[0])
        assert await driver_backend(schemas[1]) == first  # over the limit after this one
        assert await driver_backend(schemas[0]) != first
    finally:
        await engine.dispose()


async def test_a_connection_keeps_the_prepared_statements_of_every_shop_it_may_serve(
    settings: Settings, schemas: tuple[str, ...]
) -> None:
    """Each shop has its own texts of the hot path's statements: psycopg's default cache of
    100 would evict and prepare again once a connection served a handful of shops."""
    engine = _engine(settings, max_schemas=50)
    try:
        async with engine.connect() as conn:
            driver = await driver_of(conn)
            assert driver.prepared_max == PREPARED_PER_SHOP * 50
            assert driver.prepare_threshold == PREPARE_AFTER
    finally:
        await engine.dispose()
