"""What the dispatcher does besides marking a row failed when a send fails for good:
the default alerts (an audit-log row for the operator, a notification for the shop)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.engine import TenantBinder
from chatcentral.models.central import AuditLog
from chatcentral.models.tenant import Notification
from chatcentral.outbox.rows import Claimed
from chatcentral.whatsapp.graph import SendFailure

FailureHook = Callable[[AsyncConnection, Claimed, SendFailure], Awaitable[None]]
SentHook = Callable[[AsyncConnection, Claimed], Awaitable[None]]


async def audit_failure(conn: AsyncConnection, row: Claimed, failure: SendFailure) -> None:
    """Default alert: an audit-log row an operator (and the admin API) can see."""
    await conn.execute(
        insert(AuditLog).values(
            tenant_id=row.tenant_id,
            actor="dispatcher",
            action="outbox.failed",
            details={
                "outbox_id": row.id,
                "kind": row.kind,
                "code": failure.code,
                "http_status": failure.http_status,
                "reason": failure.reason,
            },
        )
    )


async def notify_shop_admins(conn: AsyncConnection, row: Claimed, failure: SendFailure) -> None:
    """Default alert for the shop: a notification its admins receive (the notifications
    issue delivers them) saying a customer was not answered and why."""
    if row.kind != "message":
        return
    tenant_conn = await TenantBinder.bind(conn, row.schema)
    await tenant_conn.execute(
        insert(Notification).values(
            kind="delivery.failed",
            payload={
                "outbox_id": row.id,
                "message_id": row.message_id,
                "recipient": row.recipient,
                "code": failure.code,
                "reason": failure.reason,
            },
        )
    )
