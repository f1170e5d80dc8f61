"""One async engine and one pool for every tenant (SQLAlchemy 2 on psycopg 3).

Tenant tables are declared without a schema; `for_tenant` maps the `None` schema onto the
tenant's own schema with `schema_translate_map`, so nothing below it names schemas by hand
and no connection ever carries a `search_path` of its own (PgBouncer-safe).

Behind PgBouncer in transaction mode nothing may rely on a session: no statement relies
on a `search_path`, the reminder job's advisory lock is transaction-level, and
LISTEN has a direct connection of its own (CHATCENTRAL_LISTEN_URL, `db/listener.py`).
What remains is psycopg's server-side prepared statements: `driver_options`.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from threading import Lock
from typing import Any

from psycopg import _queries as psycopg_queries
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from chatcentral.config import Settings

log = logging.getLogger(__name__)

# How CLI sub-commands get the admin (synchronous) engine: `with admin_engine() as engine:`.
EngineFactory = Callable[[], AbstractContextManager[Engine]]

# The tenant schemas a pooled connection has run statements in (its pool entry's `info`,
# which lives as long as the database connection).
SCHEMAS_SEEN = "chatcentral.schemas"
# Prepared statements a connection keeps per shop it serves: the hot path's dozen
# (`db/driver.py`, one text per shop) and room for the SQLAlchemy statements of the
# paths that come and go (an order placed, a handoff). psycopg's default of 100 in all
# would evict and prepare again as soon as a connection serves more than a few shops.
PREPARED_PER_SHOP = 24
# The pool's statements are prepared at their second run on a connection (psycopg's default
# is the sixth). Each shop has its own texts of the hot path's statements, so a pool of ten
# connections serving 20 shops would otherwise parse and plan each of them a thousand
# times before the prepared plans start to pay.
PREPARE_AFTER = 1
# Query texts whose conversion to PostgreSQL's form (placeholders to $n) psycopg keeps in its
# process-wide LRU. Its own size is 128, and the hot path's dozen statements have one text
# per shop: with 20 busy shops the texts cycle through more than the cache holds, so every
# execution parsed its text again (2.4 % of the server's CPU under `make bench`). An entry
# is the text and its parts, a few KB: this bounds the cache to about 10 MB.
QUERY_TEXTS_CACHED = 2048


def async_url(url: str) -> str:
    """Turn any `postgresql://`/`postgres://` URL into the psycopg 3 dialect URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql://")


def plain_url(url: str) -> str:
    """The libpq form of a URL (for psycopg.connect, pgbench, psql)."""
    return "postgresql://" + async_url(url)[len("postgresql+psycopg://") :]


def driver_options(settings: Settings | None, application_name: str) -> dict[str, Any]:
    """psycopg's connect arguments. With CHATCENTRAL_DB_PREPARED_STATEMENTS off no statement
    is ever prepared on the server (`prepare_threshold=None`): behind a PgBouncer in
    transaction mode without prepared-statement support (before 1.21, or
    `max_prepared_statements = 0`), a statement prepared in one transaction's server
    connection is missing from the next one's, or clashes with another client's."""
    options: dict[str, Any] = {"application_name": application_name}
    if settings is not None and not settings.chatcentral_db_prepared_statements:
        options["prepare_threshold"] = None
    return options


def make_engine(url: str, settings: Settings | None = None) -> AsyncEngine:
    """Create the process's engine. Pools stay small and connections are recycled because
    each connection caches the catalog of every tenant schema it has touched."""
    pool_size = settings.chatcentral_db_pool_size if settings else 5
    max_overflow = settings.chatcentral_db_max_overflow if settings else 5
    recycle = settings.chatcentral_db_pool_recycle_s if settings else 1800
    max_schemas = settings.chatcentral_db_conn_max_schemas if settings else 100
    options = driver_options(settings, "chatcentral")
    options.setdefault("prepare_threshold", PREPARE_AFTER)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=recycle,
        pool_pre_ping=False,
        connect_args=options,
    )
    cap_schemas_per_connection(engine, max_schemas)
    keep_prepared_statements(engine, PREPARED_PER_SHOP * (max_schemas or 100))
    keep_converted_queries(QUERY_TEXTS_CACHED)
    return engine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """A view of `engine` (same pool) whose connections run each statement as its own
    transaction: one round trip, no BEGIN or COMMIT. For work that is one statement, or one
    pipeline of statements each complete alone."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def keep_converted_queries(count: int) -> None:
    """Size psycopg's cache of converted query texts (process-wide). psycopg has no setting
    for it, so its module's cached function is replaced by a larger one of the same
    function; with a psycopg that no longer has it, its own cache stays."""
    cached = getattr(psycopg_queries, "_query2pg", None)
    convert = getattr(psycopg_queries, "_query2pg_nocache", None)
    if cached is None or convert is None or not hasattr(cached, "cache_info"):
        log.warning("psycopg's query cache not found: left at its own size")
        return
    if cached.cache_info().maxsize != count:
        psycopg_queries._query2pg = functools.lru_cache(maxsize=count)(convert)


def keep_prepared_statements(engine: AsyncEngine, count: int) -> None:
    """Let each connection keep `count` prepared statements (psycopg's LRU cache; the
    least recently used one is deallocated past it). A connection serves at most the
    schema limit's shops before it is replaced, so this bounds what plans cost a backend."""

    def size_cache(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None:
            driver.prepared_max = count

    event.listen(engine.sync_engine, "connect", size_cache)


def cap_schemas_per_connection(engine: AsyncEngine, limit: int) -> None:
    """Replace a pooled connection once it has run statements in more than `limit` tenant
    schemas (0: never). A PostgreSQL backend caches the catalog of every relation it opens
    and never gives that memory back, so with many shops a connection's memory follows the
    number of schemas it served, which a maximum age bounds only at a given traffic. Each
    statement notes its schema (a set insert); at check-in a connection over the limit is
    soft-invalidated, and its next checkout opens a fresh backend in its place."""
    if limit <= 0:
        return

    def note_schema(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: object,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        mapping = context.execution_options.get("schema_translate_map") if context else None
        schema = mapping.get(None) if mapping else None
        if schema is not None:
            conn.info.setdefault(SCHEMAS_SEEN, set()).add(schema)

    def judge(dbapi_connection: DBAPIConnection | None, entry: ConnectionPoolEntry) -> None:
        if len(entry.info.get(SCHEMAS_SEEN, ())) > limit:
            entry.invalidate(soft=True)

    event.listen(engine.sync_engine, "before_cursor_execute", note_schema)
    event.listen(engine.sync_engine, "checkin", judge)


def make_sync_engine(url: str, settings: Settings | None = None) -> Engine:
    """A pool-less synchronous engine for administrative work (provisioning, migrations):
    Alembic is synchronous and these commands hold one connection at a time. Without
    `settings`, psycopg's default (prepare after five executions) applies."""
    return create_engine(
        async_url(url),
        poolclass=NullPool,
        connect_args=driver_options(settings, "chatcentral-admin"),
    )


class TenantBinder:
    """The one place a tenant's `schema_translate_map` is built: engine views bound to one
    tenant schema, cached (bounded) by schema name, and connections bound the same way."""

    def __init__(self, engine: AsyncEngine, capacity: int = 4096) -> None:
        self._engine = engine
        self._capacity = capacity
        self._views: OrderedDict[str, AsyncEngine] = OrderedDict()
        self._lock = Lock()

    def engine_for(self, schema: str) -> AsyncEngine:
        with self._lock:
            view = self._views.get(schema)
            if view is None:
                view = self._engine.execution_options(schema_translate_map={None: schema})
                self._views[schema] = view
                if len(self._views) > self._capacity:
                    self._views.popitem(last=False)
            else:
                self._views.move_to_end(schema)
            return view

    @staticmethod
    async def bind(conn: AsyncConnection, schema: str) -> AsyncConnection:
        """This connection, mapped onto one tenant's schema for what it runs next."""
        return await conn.execution_options(schema_translate_map={None: schema})

    @staticmethod
    def bind_sync(conn: Connection, schema: str) -> Connection:
        """`bind` for synchronous work (provisioning, migrations)."""
        return conn.execution_options(schema_translate_map={None: schema})

    def session(self, schema: str) -> AsyncSession:
        """A new ORM session that serves exactly one tenant."""
        return AsyncSession(self.engine_for(schema), expire_on_commit=False)
