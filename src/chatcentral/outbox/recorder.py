"""Recording sends Meta accepted, many to a transaction (group commit).

Most outcomes are a success, and recording each in its own transaction cost four round
trips and SQLAlchemy's per-statement overhead twice per reply. Here, successes that end
while a write is under way wait for the next one (`db/group_commit.py`), which records them
all: per shop, one statement marks its outbox rows sent under their leases and updates their
message rows in the shop's schema; all shops' statements go out in one pipeline. A write
first gathers for `GATHER_S`: in a `chatcentral worker`, which is seldom busy, writes were
otherwise nearly one per reply (2.7 ms of worker CPU per message under `make bench`, 2.2
with the gathering; the customer's next reply waits 10 ms more for its turn).

The lease fence is kept per row: a row is marked sent only while still pending under the
lease that sent it, and only those rows' messages and hooks are touched. A failed write
fails every row of it, and the dispatcher records them one at a time (its retry path),
with the same statement (`write`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.db.driver import SchemaSQL, driver_of
from chatcentral.db.group_commit import GroupCommit
from chatcentral.outbox.alerts import SentHook
from chatcentral.outbox.rows import Claimed
from chatcentral.outbox.statuses import RANKS

# One shop's accepted sends: the outbox rows still pending under their leases become
# sent; their message rows get the wamid and the best status its webhooks already
# reported (they may beat the dispatcher here), else `accepted`.
MARK_ACCEPTED = SchemaSQL("""
WITH sent AS (
    UPDATE central.outbox o
    SET status = 'sent', sent_at = now(), attempts = o.attempts + 1
    FROM unnest(%(ids)s::bigint[], %(leases)s::timestamptz[], %(wamids)s::text[])
         AS x(id, lease, wamid)
    WHERE o.id = x.id AND o.status = 'pending' AND o.due_at = x.lease
    RETURNING o.id, o.message_id, x.wamid
), accepted AS (
    UPDATE {schema}.messages m
    SET sent_at = now(), status_updated_at = now(), wamid = coalesce(sent.wamid, m.wamid),
        status = coalesce(
            (SELECT s.status FROM {schema}.message_statuses s WHERE s.wamid = sent.wamid
             ORDER BY array_position(%(ranks)s::text[], s.status) DESC NULLS LAST LIMIT 1),
            'accepted')
    FROM sent WHERE m.id = sent.message_id
)
SELECT id FROM sent
""")


GATHER_S = 0.01


class AcceptedRecorder:
    def __init__(self, engine: AsyncEngine, sent_hooks: Sequence[SentHook]) -> None:
        self._engine = engine
        self._hooks = list(sent_hooks)
        self._group: GroupCommit[tuple[Claimed, str | None], bool] = GroupCommit(
            self._write, gather_s=GATHER_S
        )

    async def record(self, row: Claimed, wamid: str | None) -> bool:
        """Record one accepted send; True if written, False if the row was no longer
        pending under its lease (superseded). Raises if the write failed."""
        return await self._group.submit((row, wamid))

    async def _write(self, batch: list[tuple[Claimed, str | None]]) -> list[bool]:
        async with self._engine.begin() as conn:
            written = await self.write(conn, batch)
        return [row.id in written for row, _ in batch]

    async def write(
        self, conn: AsyncConnection, batch: list[tuple[Claimed, str | None]]
    ) -> set[int]:
        """Record these accepted sends in `conn`'s transaction (the sent hooks included);
        the ids of the rows still pending under their leases, the ones written."""
        by_schema: dict[str, list[tuple[Claimed, str | None]]] = defaultdict(list)
        for row, wamid in batch:
            by_schema[row.schema].append((row, wamid))
        pg = await driver_of(conn, *by_schema)
        async with pg.pipeline():
            cursors = []
            for schema, rows in by_schema.items():
                cursors.append(await pg.execute(MARK_ACCEPTED.text(schema), _params(rows)))
        written = {id_ for cursor in cursors for (id_,) in await cursor.fetchall()}
        for row, _ in batch:
            if row.id in written:
                for hook in self._hooks:
                    await hook(conn, row)
        return written


def _params(rows: list[tuple[Claimed, str | None]]) -> dict[str, Any]:
    return {
        "ids": [row.id for row, _ in rows],
        "leases": [row.leased_until for row, _ in rows],
        "wamids": [wamid for _, wamid in rows],
        "ranks": RANKS,
    }
