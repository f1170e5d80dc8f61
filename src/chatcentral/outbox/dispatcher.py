"""The outbox dispatcher: sends what the conversation service queued, in order, once.

Rows are claimed with `FOR UPDATE SKIP LOCKED` inside a transaction that stays open
while they are sent, so a dispatcher killed mid-send leaves them pending for the next
one (nothing is lost; at worst a message Meta had accepted goes out again). A row is
only eligible when no older row for the same (shop, recipient) is still pending: a
customer's second reply never overtakes the first, while other customers go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.config import Settings
from chatcentral.metrics import OUTBOX_FAILED, OUTBOX_RETRIES, OUTBOX_SEND_SECONDS, OUTBOX_SENT
from chatcentral.models.central import AuditLog, Outbox
from chatcentral.models.tenant import Message, Notification
from chatcentral.outbox.statuses import latest_status_of
from chatcentral.tenancy.secrets import token_for
from chatcentral.whatsapp.graph import GraphClient, SendFailure, SendResult, Verdict

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
RETRY_BASE_S = 2.0
RETRY_CAP_S = 300.0
PAIR_BACKOFF_CAP_S = 600.0

_CLAIM = text(
    """
    SELECT o.id, o.tenant_id, o.kind, o.recipient, o.payload, o.message_id, o.attempts,
           t.schema_name, t.phone_number_id, t.access_token_encrypted, t.slug
    FROM central.outbox o
    JOIN central.tenants t ON t.id = o.tenant_id
    WHERE o.status = 'pending' AND o.due_at <= now()
      AND NOT EXISTS (
        SELECT 1 FROM central.outbox p
        WHERE p.status = 'pending' AND p.tenant_id = o.tenant_id
          AND p.recipient = o.recipient AND p.id < o.id)
    ORDER BY o.id
    LIMIT :limit
    FOR UPDATE OF o SKIP LOCKED
    """
)
_CANCEL_NEXT_MARK_READ = text(
    """
    UPDATE central.outbox SET status = 'cancelled'
    WHERE id = (
        SELECT n.id FROM central.outbox n JOIN central.outbox f ON f.id = :id
        WHERE n.status = 'pending' AND n.kind = 'mark_read' AND n.tenant_id = f.tenant_id
          AND n.recipient = f.recipient AND n.id > f.id
        ORDER BY n.id LIMIT 1)
    """
)
# Sent and cancelled calls are kept a while for inspection, then deleted in slices so a
# purge never holds many locks; failed ones stay until an operator looks at them.
_PURGE = text(
    """
    DELETE FROM central.outbox WHERE id IN (
        SELECT id FROM central.outbox
        WHERE status IN ('sent', 'cancelled') AND created_at < now() - make_interval(days => :days)
        LIMIT 5000)
    """
)
PURGE_EVERY_S = 3600.0
_NEXT_DUE = text(
    "SELECT EXTRACT(EPOCH FROM min(due_at) - now()) FROM central.outbox WHERE status = 'pending'"
)


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    message_id: int | None
    attempts: int
    schema: str
    phone_number_id: str
    token_encrypted: bytes | None
    slug: str


FailureHook = Callable[[AsyncConnection, Claimed, SendFailure], Awaitable[None]]


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
    tenant_conn = await conn.execution_options(schema_translate_map={None: row.schema})
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


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        graph: GraphClient,
        settings: Settings,
        *,
        batch_size: int = 32,
        failure_hooks: list[FailureHook] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._graph = graph
        self._settings = settings
        self._batch_size = batch_size
        self._hooks = (
            failure_hooks if failure_hooks is not None else [audit_failure, notify_shop_admins]
        )
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()

    def wake(self, _payload: str = "") -> None:
        """Called on NOTIFY: new rows are waiting."""
        self._wake.set()

    async def purge(self) -> int:
        """Delete sent and cancelled calls older than the retention; return how many."""
        deleted = 0
        while True:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    _PURGE, {"days": self._settings.chatcentral_outbox_retention_days}
                )
            deleted += result.rowcount
            if result.rowcount < 5000:
                return deleted

    async def run(self, stop: asyncio.Event, *, idle_wait: float = 5.0) -> None:
        """Dispatch until `stop` is set; sleep between bursts until woken or a row is due."""
        next_purge = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + PURGE_EVERY_S
                try:
                    log.info("outbox purge removed %d old rows", await self.purge())
                except Exception:
                    log.warning("outbox purge failed; next try in an hour", exc_info=True)
            try:
                sent = await self.dispatch_once()
            except Exception:
                log.exception("dispatch round failed; retrying shortly")
                sent = 0
                await asyncio.sleep(1.0)
            if sent:
                continue
            wait = await self._seconds_until_due(idle_wait)
            self._wake.clear()
            stopper = asyncio.create_task(stop.wait())
            waker = asyncio.create_task(self._wake.wait())
            await asyncio.wait({stopper, waker}, timeout=wait, return_when="FIRST_COMPLETED")
            for task in (stopper, waker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def dispatch_once(self) -> int:
        """Claim one batch, send it concurrently, record each outcome; return the count."""
        async with self._engine.begin() as conn:
            rows = [
                Claimed(*row)
                for row in (await conn.execute(_CLAIM, {"limit": self._batch_size})).all()
            ]
            if not rows:
                return 0
            results = await asyncio.gather(*(self._send(row) for row in rows))
            for row, result in zip(rows, results, strict=True):
                await self._record(conn, row, result)
        return len(rows)

    async def _send(self, row: Claimed) -> SendResult:
        token = token_for(self._settings, row.token_encrypted)
        if token is None:
            return SendResult(
                failure=SendFailure(Verdict.PERMANENT, "no access token configured for shop")
            )
        with OUTBOX_SEND_SECONDS.time():
            return await self._graph.send(row.phone_number_id, token, row.payload)

    async def _record(self, conn: AsyncConnection, row: Claimed, result: SendResult) -> None:
        if result.failure is None:
            await self._succeeded(conn, row, result.wamid)
            return
        failure = result.failure
        attempts = row.attempts + 1
        if failure.verdict is Verdict.PERMANENT or attempts >= MAX_ATTEMPTS:
            await self._failed(conn, row, failure, attempts)
            return
        delay = self._backoff(failure, attempts)
        OUTBOX_RETRIES.labels(reason=str(failure.code or failure.http_status or "network")).inc()
        log.info(
            "shop %s: outbox %d retry %d in %.1fs (%s)",
            row.slug,
            row.id,
            attempts,
            delay,
            failure.reason,
        )
        await conn.execute(
            update(Outbox)
            .where(Outbox.id == row.id)
            .values(
                attempts=attempts,
                due_at=func.now() + timedelta(seconds=delay),
                last_error=failure.reason,
                error_code=failure.code,
            )
        )

    async def _succeeded(self, conn: AsyncConnection, row: Claimed, wamid: str | None) -> None:
        OUTBOX_SENT.labels(kind=row.kind).inc()
        await conn.execute(
            update(Outbox)
            .where(Outbox.id == row.id)
            .values(status="sent", sent_at=func.now(), attempts=row.attempts + 1)
        )
        if row.message_id is None:
            return
        tenant_conn = await conn.execution_options(schema_translate_map={None: row.schema})
        values: dict[str, Any] = {"sent_at": func.now(), "status_updated_at": func.now()}
        if wamid:
            values["wamid"] = wamid
            # Status webhooks may have beaten us here: start from what they said.
            values["status"] = func.coalesce(latest_status_of(wamid), "accepted")
        else:
            values["status"] = "accepted"
        await tenant_conn.execute(
            update(Message).where(Message.id == row.message_id).values(**values)
        )

    async def _failed(
        self, conn: AsyncConnection, row: Claimed, failure: SendFailure, attempts: int
    ) -> None:
        OUTBOX_FAILED.labels(code=str(failure.code or failure.http_status or "none")).inc()
        log.error(
            "shop %s: outbox %d (%s) failed for good after %d attempt(s): code %s, %s",
            row.slug,
            row.id,
            row.kind,
            attempts,
            failure.code,
            failure.reason,
        )
        await conn.execute(
            update(Outbox)
            .where(Outbox.id == row.id)
            .values(
                status="failed",
                attempts=attempts,
                last_error=failure.reason,
                error_code=failure.code,
            )
        )
        if row.message_id is not None:
            tenant_conn = await conn.execution_options(schema_translate_map={None: row.schema})
            await tenant_conn.execute(
                update(Message)
                .where(Message.id == row.message_id)
                .values(status="failed", error_code=failure.code, status_updated_at=func.now())
            )
        if row.kind == "message":
            # The customer's message was not answered: do not show them blue ticks for it.
            await conn.execute(_CANCEL_NEXT_MARK_READ, {"id": row.id})
        for hook in self._hooks:
            await hook(conn, row, failure)

    def _backoff(self, failure: SendFailure, attempts: int) -> float:
        if failure.verdict is Verdict.RECIPIENT_BACKOFF:
            # Meta's advice for the pair rate limit: wait 4^X seconds, X = 0, 1, 2, ...
            return float(min(4 ** (attempts - 1), PAIR_BACKOFF_CAP_S))
        base = min(RETRY_BASE_S * 2 ** (attempts - 1), RETRY_CAP_S)
        return float(base * self._rng.uniform(0.5, 1.5))

    async def _seconds_until_due(self, idle_wait: float) -> float:
        async with self._engine.connect() as conn:
            seconds = (await conn.execute(_NEXT_DUE)).scalar()
        if seconds is None:
            return idle_wait
        return max(0.05, min(float(seconds), idle_wait))
