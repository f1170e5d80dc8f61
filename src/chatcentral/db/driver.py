"""The hot path's SQL, run straight on psycopg inside a SQLAlchemy connection's transaction.

Every message and every status webhook runs the same few statements. Through SQLAlchemy
each execution pays for a cache key, parameter processing, a greenlet hop and a result
wrapper: more CPU than the round trip itself. These statements are plain SQL with bind
parameters, sent on the driver connection under the SQLAlchemy connection that holds the
transaction, and pipelined (psycopg's pipeline mode) so that BEGIN, the shop's
`search_path` and the first statement travel together, and the writes of the end with the
COMMIT.

Tenant tables are unqualified in this SQL and the transaction's `search_path` names the
shop's schema (`SET LOCAL`, so it ends with the transaction: safe behind PgBouncer in
transaction mode). One text then serves every shop, so psycopg prepares each statement
once per connection however many shops there are. Central tables are always qualified.
A statement that is a whole transaction on its own runs in autocommit instead (no BEGIN,
no COMMIT: one round trip), with no transaction to carry a search_path: its tenant tables
are qualified, one text per shop (`SchemaSQL`). Everything else keeps using SQLAlchemy
with `schema_translate_map`; both kinds may share a transaction.
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.engine import SCHEMAS_SEEN

SET_SCHEMA = "SELECT set_config('search_path', %s, true)"
# COMMIT as a statement of a pipeline: the pipeline's own Sync then ends it in the same
# round trip (`connection.commit()` inside a pipeline syncs once more).
COMMIT = "COMMIT"


async def driver_of(conn: AsyncConnection, *schemas: str) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under this SQLAlchemy connection (same transaction). The
    tenant schemas it will serve (the connection's own, and `schemas`) are noted on the
    pooled connection, as SQLAlchemy's statements note theirs, so that the pool replaces
    a connection that served too many (`engine.cap_schemas_per_connection`)."""
    fairy = await conn.get_raw_connection()
    sync = conn.sync_connection
    options = sync.get_execution_options() if sync is not None else {}
    mapping = options.get("schema_translate_map") or {}
    served = {s for s in (mapping.get(None), *schemas) if s}
    if served:
        fairy.info.setdefault(SCHEMAS_SEEN, set()).update(served)
    driver = fairy.driver_connection
    if not isinstance(driver, psycopg.AsyncConnection):
        raise TypeError("the hot path needs the psycopg (async) driver")
    return driver


def search_path(schema: str) -> str:
    """The `search_path` value naming one tenant schema (quoted: it is an identifier)."""
    return '"' + schema.replace('"', '""') + '"'


async def enter_schema(pg: psycopg.AsyncConnection[Any], schema: str) -> None:
    """Point this transaction's unqualified names at the shop's schema (queued, in a
    pipeline: it costs no round trip of its own)."""
    await pg.execute(SET_SCHEMA, (search_path(schema),))


class SchemaSQL:
    """A statement whose tenant tables are written `{schema}.table`, rendered once per
    shop. Run with `prepare=False`: with one text per shop, psycopg's cache of prepared
    statements (100 per connection) would churn as soon as there are many shops."""

    def __init__(self, template: LiteralString, capacity: int = 4096) -> None:
        self._template = sql.SQL(template)
        self._capacity = capacity
        self._texts: dict[str, bytes] = {}

    def text(self, schema: str) -> bytes:
        found = self._texts.get(schema)
        if found is None:
            if len(self._texts) >= self._capacity:
                self._texts.clear()
            found = self._template.format(schema=sql.Identifier(schema)).as_bytes(None)
            self._texts[schema] = found
        return found
