"""The hot path's SQL, run straight on psycopg inside a SQLAlchemy connection's transaction.

Every message and every status webhook runs the same few statements. Through SQLAlchemy
each execution pays for a cache key, parameter processing, a greenlet hop and a result
wrapper: more CPU than the round trip itself. These statements are plain SQL with bind
parameters, sent on the driver connection under the SQLAlchemy connection that holds the
transaction, and pipelined (psycopg's pipeline mode) so that BEGIN and the first statement
travel together, and the writes of the end with the COMMIT.

Tenant tables are qualified, `{schema}.table`: each statement is rendered once per shop
(`SchemaSQL`) and psycopg prepares each shop's text on a connection after a few runs. A
prepared plan stays valid only under the `search_path` it was planned with; the one text
for every shop under a per-transaction `search_path` that this replaced was planned anew
whenever the previous run on that connection had been another shop's — most runs with
more than one busy shop, and the largest part of the database's CPU for `OPEN`. The pool
sizes each connection's cache of prepared statements for the shops it may serve
(`engine.make_engine`). Central tables are always qualified. A statement that is a whole
transaction on its own runs in autocommit (no BEGIN, no COMMIT: one round trip).
Everything else keeps using SQLAlchemy with `schema_translate_map`; both kinds may share a
transaction.
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.engine import SCHEMAS_SEEN

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


class SchemaSQL:
    """A statement whose tenant tables are written `{schema}.table`, rendered once per
    shop (a literal brace is doubled, `{{}}`)."""

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
