"""Status webhooks (sent → delivered → read, or failed) applied to outbound messages.

They are about three times the inbound volume, so a whole batch costs two statements:
record each (wamid, status) once, then move each message forward to the highest new
status. A status never moves backwards: a late `delivered` after `read` changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Case,
    ColumnElement,
    Integer,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    select,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute

from chatcentral.metrics import STATUS_UPDATES
from chatcentral.models.tenant import Message, MessageStatus
from chatcentral.notifications import delivery
from chatcentral.whatsapp.payloads import StatusUpdate

log = logging.getLogger(__name__)

# Order of an outbound message's life; `failed` is final.
RANK = {"queued": 0, "accepted": 1, "sent": 2, "delivered": 3, "read": 4, "played": 5, "failed": 6}


def rank_of(status: ColumnElement[Any] | InstrumentedAttribute[str]) -> Case[Any]:
    """SQL expression ranking a status column like RANK (unknown statuses rank lowest)."""
    return case(RANK, value=status, else_=-1)


async def apply_statuses(
    tenant_engine: AsyncEngine, statuses: Sequence[StatusUpdate], *, tenant_id: int | None = None
) -> int:
    """Record and apply a batch of one shop's statuses; returns how many were new. With the
    shop's `tenant_id`, a send Meta reports failed after accepting it is followed up in the
    same transaction (`notifications/delivery.py`: its template, or the admin told)."""
    if not statuses:
        return 0
    rows = [
        {
            "wamid": status.id,
            "status": status.status,
            "error_code": status.error_code,
            "occurred_at": datetime.fromtimestamp(status.timestamp, tz=UTC),
        }
        for status in statuses
    ]
    async with tenant_engine.begin() as conn:
        new = (
            await conn.execute(
                pg_insert(MessageStatus)
                .on_conflict_do_nothing(index_elements=[MessageStatus.wamid, MessageStatus.status])
                .returning(MessageStatus.wamid, MessageStatus.status, MessageStatus.error_code),
                rows,
            )
        ).all()
        best = _highest_per_message([(r.wamid, r.status, r.error_code) for r in new])
        if best:
            await conn.execute(_advance(best))
        failed = [(wamid, code) for wamid, status, code in best if status == "failed"]
        if failed and tenant_id is not None:
            await delivery.after_failed_statuses(conn, tenant_id, failed)
    for wamid, status, code in best:
        STATUS_UPDATES.labels(status=status if status in RANK else "other").inc()
        if status == "failed":
            log.warning("delivery failed for %s (code %s)", wamid, code)
    return len(new)


def _highest_per_message(
    updates: list[tuple[str, str, int | None]],
) -> list[tuple[str, str, int | None]]:
    best: dict[str, tuple[str, str, int | None]] = {}
    for wamid, status, code in updates:
        if status not in RANK:
            continue
        current = best.get(wamid)
        if current is None or RANK[status] > RANK[current[1]]:
            best[wamid] = (wamid, status, code)
    return list(best.values())


def _advance(best: list[tuple[str, str, int | None]]) -> Any:
    incoming = values(
        column("wamid", Text),
        column("status", Text),
        column("error_code", Integer),
        name="incoming",
    ).data(best)
    return (
        update(Message)
        .where(Message.wamid == incoming.c.wamid)
        .where(Message.direction == "out")  # an inbound wamid never takes delivery statuses
        .where(rank_of(Message.status) < rank_of(incoming.c.status))
        .values(
            status=incoming.c.status,
            # VALUES renders a missing code as an untyped NULL: say it is an integer.
            error_code=func.coalesce(cast(incoming.c.error_code, Integer), Message.error_code),
            status_updated_at=func.now(),
        )
    )


def latest_status_of(wamid: str) -> Any:
    """Scalar subquery: the highest status already recorded for `wamid`, if any (used when
    the dispatcher learns a wamid after its statuses arrived)."""
    return (
        select(MessageStatus.status)
        .where(MessageStatus.wamid == literal(wamid))
        .order_by(rank_of(MessageStatus.status).desc())
        .limit(1)
        .scalar_subquery()
    )
