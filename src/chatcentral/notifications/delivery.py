"""What the dispatcher does once news for an admin went out, or never will.

Sent: the `notifications` row counts it, and is delivered once every admin's send went
out. Failed for good: the admin's `staff.undelivered` grows by one (the admin
conversation shows "⚠️ 1 aviso no entregado" on their next message and resets it), with a
log line; the dispatcher counts it in `chatcentral_notifications_failed_total`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Integer, Text, bindparam, case, func
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.engine import TenantBinder
from chatcentral.models.tenant import Notification, Staff
from chatcentral.notifications.notify import KIND, notification_of

if TYPE_CHECKING:
    from chatcentral.outbox.dispatcher import Claimed
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
