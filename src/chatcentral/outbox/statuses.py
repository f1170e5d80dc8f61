"""Status webhooks (sent → delivered → read, or failed) applied to outbound messages.

They are about three times the inbound volume, so a webhook's statuses are one statement on
the driver connection, in autocommit: record each (wamid, status) once, then move each message
forward to the highest new status. A status never moves backwards: a late `delivered` after
`read` changes nothing. Webhooks that arrive while one is being written wait for the next
write (`StatusWriter`, group commit), which carries them all in one round trip.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.db.driver import SchemaSQL, driver_of
from chatcentral.db.engine import autocommit
from chatcentral.db.group_commit import GroupCommit
from chatcentral.metrics import STATUS_UPDATES
from chatcentral.notifications import delivery
from chatcentral.whatsapp.payloads import StatusUpdate

log = logging.getLogger(__name__)

# Order of an outbound message's life; `failed` is final.
RANK = {"queued": 0, "accepted": 1, "sent": 2, "delivered": 3, "read": 4, "played": 5, "failed": 6}


# The statuses in rank order: array_position() in it is a status's rank (NULL: unknown).
RANKS = sorted(RANK, key=RANK.__getitem__)

# A batch of one shop's statuses in one statement: record each (wamid, status) once, then
# move each message forward to the highest new status, never backwards. Run alone in
# autocommit: one round trip, no BEGIN or COMMIT (`db/driver.py`).
APPLY = SchemaSQL("""
WITH new AS (
    INSERT INTO {schema}.message_statuses (wamid, status, error_code, occurred_at)
    SELECT * FROM unnest(%(wamids)s::text[], %(statuses)s::text[], %(codes)s::integer[],
                         %(occurred)s::timestamptz[])
    ON CONFLICT (wamid, status) DO NOTHING
    RETURNING wamid, status, error_code
), best AS (
    SELECT DISTINCT ON (wamid) wamid, status, error_code, rank
    FROM (SELECT new.*, array_position(%(ranks)s::text[], new.status) AS rank FROM new) AS ranked
    WHERE rank IS NOT NULL
    ORDER BY wamid, rank DESC
), moved AS (
    UPDATE {schema}.messages m
    SET status = best.status, error_code = coalesce(best.error_code, m.error_code),
        status_updated_at = now()
    FROM best
    WHERE m.wamid = best.wamid
      AND m.direction = 'out'  -- an inbound wamid never takes delivery statuses
      AND coalesce(array_position(%(ranks)s::text[], m.status), 0) < best.rank
)
SELECT (SELECT count(*) FROM new), best.wamid, best.status, best.error_code
FROM (SELECT 1) AS one LEFT JOIN best ON true
""")


async def apply_statuses(
    tenant_engine: AsyncEngine,
    schema: str,
    statuses: Sequence[StatusUpdate],
    *,
    tenant_id: int | None = None,
) -> int:
    """Record and apply a batch of one shop's statuses, alone; returns how many were new.
    With the shop's `tenant_id`, a send Meta reports failed after accepting it is followed
    up in the same transaction (`notifications/delivery.py`: its template, or the admin
    told)."""
    if not statuses:
        return 0
    follow_up = tenant_id is not None and any(s.status == "failed" for s in statuses)
    async with tenant_engine.connect() as conn:
        if follow_up:  # a failure may need its follow-up in the same transaction
            transaction = await conn.begin()
        else:  # the statement is the whole transaction
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        pg = await driver_of(conn)
        rows = await (await pg.execute(APPLY.text(schema), _params(statuses))).fetchall()
        best = _moved(rows)
        if follow_up:
            failed = [(wamid, code) for wamid, status, code in best if status == "failed"]
            if failed and tenant_id is not None:
                await delivery.after_failed_statuses(conn, tenant_id, failed)
            await transaction.commit()
    _note(best)
    return int(rows[0][0])


class StatusWriter:
    """Statuses of any shop written together (group commit): per shop one `APPLY` of
    everything that waited, every shop's in one pipeline (one round trip, one implicit
    transaction). A webhook with a `failed` status goes alone (`apply_statuses`: its
    follow-up needs a transaction). A failed write fails every webhook of it; each then
    takes `apply_statuses` alone."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = autocommit(engine)
        self._group: GroupCommit[tuple[str, Sequence[StatusUpdate]], None] = GroupCommit(
            self._write
        )

    async def apply(
        self,
        tenant_engine: AsyncEngine,
        schema: str,
        statuses: Sequence[StatusUpdate],
        *,
        tenant_id: int,
    ) -> None:
        """Record and apply one webhook's statuses of the shop `schema` (`tenant_engine`
        bound to it, for a follow-up)."""
        if any(status.status == "failed" for status in statuses):
            await apply_statuses(tenant_engine, schema, statuses, tenant_id=tenant_id)
        elif statuses:
            await self._group.submit((schema, statuses))

    async def _write(self, batch: list[tuple[str, Sequence[StatusUpdate]]]) -> list[None]:
        by_schema: dict[str, list[StatusUpdate]] = defaultdict(list)
        for schema, statuses in batch:
            by_schema[schema].extend(statuses)
        async with self._engine.connect() as conn:
            pg = await driver_of(conn, *by_schema)
            async with pg.pipeline():
                cursors = [
                    await pg.execute(APPLY.text(schema), _params(statuses))
                    for schema, statuses in by_schema.items()
                ]
            for cursor in cursors:
                _note(_moved(await cursor.fetchall()))
        return [None] * len(batch)


def _params(statuses: Sequence[StatusUpdate]) -> dict[str, Any]:
    return {
        "wamids": [status.id for status in statuses],
        "statuses": [status.status for status in statuses],
        "codes": [status.error_code for status in statuses],
        "occurred": [datetime.fromtimestamp(status.timestamp, tz=UTC) for status in statuses],
        "ranks": RANKS,
    }


def _moved(rows: Sequence[Any]) -> list[tuple[str, str, int | None]]:
    """(wamid, status, error code) of each message `APPLY` moved forward."""
    return [(wamid, status, code) for _, wamid, status, code in rows if wamid is not None]


def _note(moved: list[tuple[str, str, int | None]]) -> None:
    for wamid, status, code in moved:
        STATUS_UPDATES.labels(status=status).inc()
        if status == "failed":
            log.warning("delivery failed for %s (code %s)", wamid, code)
