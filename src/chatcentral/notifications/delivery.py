"""What the dispatcher does once news for an admin went out, or never will.

Sent: the `notifications` row counts it, and is delivered once every admin's send went
out. Failed for good: the admin's `staff.undelivered` grows by one (the admin
conversation shows "⚠️ 1 aviso no entregado" on their next message and resets it), with a
log line; the dispatcher counts it in `chatcentral_notifications_failed_total`.

Meta may also accept a send and report its failure later, in a `failed` status webhook
(whatsapp-cloud-api.md §9: a 131047 "may come back synchronously, or as a failed status").
Then `after_failed_statuses` does the same: a send refused for a closed window that has a
fallback is queued again as its template; admin news that failed otherwise is counted as
undelivered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Text, bindparam, case, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.engine import TenantBinder
from chatcentral.metrics import NOTIFICATIONS_FAILED, OUTBOX_TEMPLATE_FALLBACKS
from chatcentral.models.central import Outbox
from chatcentral.models.tenant import Message, Notification, Staff
from chatcentral.notifications.notify import KIND, notification_of
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.graph import WINDOW_CLOSED

if TYPE_CHECKING:
    from chatcentral.outbox.rows import Claimed
    from chatcentral.whatsapp.graph import SendFailure


log = logging.getLogger(__name__)

_sent = func.coalesce(Notification.payload["sent"].astext.cast(Integer), 0) + 1
_COUNT_SENT = (
    sql_update(Notification)
    .where(Notification.id == bindparam("notification_id", type_=Integer))
    .where(Notification.delivered_at.is_(None))
    .values(
        payload=Notification.payload.op("||")(func.jsonb_build_object("sent", _sent)),
        delivered_at=case(
            (
                _sent >= func.coalesce(Notification.payload["admins"].astext.cast(Integer), 1),
                func.now(),
            ),
            else_=None,
        ),
    )
)
_UNDELIVERED = (
    pg_insert(Staff)
    .values(wa_id=bindparam("wa_id", type_=Text), undelivered=1)
    .on_conflict_do_update(
        index_elements=[Staff.wa_id], set_={"undelivered": Staff.undelivered + 1}
    )
)


async def count_sent(conn: AsyncConnection, row: Claimed) -> None:
    """Dispatcher hook, after a send went out: count it on its `notifications` row."""
    if row.kind != KIND:
        return
    notification_id = notification_of(row.payload)
    if notification_id is None:
        return
    tenant_conn = await TenantBinder.bind(conn, row.schema)
    await tenant_conn.execute(_COUNT_SENT, {"notification_id": notification_id})


async def count_undelivered(conn: AsyncConnection, row: Claimed, failure: SendFailure) -> None:
    """Dispatcher hook, after a send failed for good: the admin will be told."""
    if row.kind != KIND:
        return
    tenant_conn = await TenantBinder.bind(conn, row.schema)
    await tenant_conn.execute(_UNDELIVERED, {"wa_id": row.recipient})
    log.error(
        "shop %s: news for admin +%s (outbox %d) not delivered: code %s, %s; "
        "they will be told on their next message",
        row.slug,
        row.recipient,
        row.id,
        failure.code,
        failure.reason,
    )


async def after_failed_statuses(
    conn: AsyncConnection, tenant_id: int, failed: Sequence[tuple[str, int | None]]
) -> None:
    """Meta reported these sends (wamid, error code) failed after accepting them. Called in
    the transaction that recorded the statuses, once per new `failed` status."""
    codes = dict(failed)
    # Only messages to the shop's own people (no customer) have a fallback or count as
    # undelivered news; they are few, and the costlier outbox lookup is kept to them.
    found = await conn.execute(
        select(Message.id, Message.wamid).where(
            Message.wamid.in_(list(codes)),
            Message.direction == "out",
            Message.customer_id.is_(None),
        )
    )
    staff_messages = {int(row.id): str(row.wamid) for row in found}
    if not staff_messages:
        return
    rows = await conn.execute(
        select(Outbox.id, Outbox.kind, Outbox.recipient, Outbox.fallback, Outbox.message_id)
        .where(Outbox.tenant_id == tenant_id, Outbox.message_id.in_(list(staff_messages)))
        .order_by(Outbox.id.desc())
    )
    seen: set[int] = set()
    for row in rows.all():
        if row.message_id in seen:
            continue  # an earlier call for a message sent again since: not this wamid's
        seen.add(row.message_id)
        code = codes[staff_messages[row.message_id]]
        if code == WINDOW_CLOSED and row.fallback is not None:
            await _send_fallback(conn, tenant_id, row)
        elif row.kind == KIND:
            await conn.execute(_UNDELIVERED, {"wa_id": row.recipient})
            NOTIFICATIONS_FAILED.labels(code=str(code or "none")).inc()
            log.error(
                "news for admin +%s (outbox %d) failed after Meta accepted it: code %s; "
                "they will be told on their next message",
                row.recipient,
                row.id,
                code,
            )


async def _send_fallback(conn: AsyncConnection, tenant_id: int, row: Any) -> None:
    await conn.execute(sql_update(Outbox).where(Outbox.id == row.id).values(fallback=None))
    await conn.execute(
        insert(Outbox).values(
            tenant_id=tenant_id,
            kind=row.kind,
            recipient=row.recipient,
            payload=row.fallback,
            message_id=row.message_id,
        )
    )
    message = outbound.message_of(row.fallback)
    await conn.execute(
        sql_update(Message)
        .where(Message.id == row.message_id)
        .values(
            type=str(message.get("type", "unknown")),
            body=message,
            status="queued",
            status_updated_at=func.now(),
        )
    )
    OUTBOX_TEMPLATE_FALLBACKS.labels(kind=row.kind).inc()
    log.info(
        "outbox %d (%s) to %s failed later, 24-hour window closed (131047); "
        "its template is queued instead",
        row.id,
        row.kind,
        row.recipient,
    )
