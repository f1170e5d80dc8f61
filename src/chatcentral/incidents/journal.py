"""One alert per incident, one when it is over: a Graph API outage for a shop is two
messages to the operator, not a thousand.

An incident has a key ("graph:tienda", "outbox_age", ...). `trouble` opens it unless it is
already open and `recovered` closes it; each is written to `central.audit_log`
(`incident.open` / `incident.resolved`, the key in `details`) under a transaction-scoped
advisory lock on the key, so of several processes that see the same trouble exactly one
opens it. Opening or closing alerts three ways: an ERROR (or WARNING, when resolved) log
line, the metrics `chatcentral_alerts_total` and `chatcentral_incidents_open`, and a
WhatsApp message to CHATCENTRAL_OPERATOR_PHONE sent by the operator's own shop
(CHATCENTRAL_OPERATOR_SHOP) through the outbox.

Each process remembers the incidents it opened or saw open, so the way things go right (a
send accepted) costs one dictionary lookup; alerting never raises into its caller.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.config import Settings
from chatcentral.metrics import ALERTS, INCIDENTS_OPEN
from chatcentral.models.central import AuditLog, Tenant
from chatcentral.outbox import enqueue
from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of
from chatcentral.whatsapp import outbound

log = logging.getLogger(__name__)

OPENED = "incident.open"
RESOLVED = "incident.resolved"

_LATEST = (
    select(AuditLog.action)
    .where(AuditLog.action.in_((OPENED, RESOLVED)))
    .where(AuditLog.details["key"].astext == bindparam("key"))
    .order_by(AuditLog.id.desc())
    .limit(1)
)


class Incidents:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._open: dict[str, str] = {}  # key → kind

    def is_open(self, key: str) -> bool:
        return key in self._open

    async def trouble(
        self, key: str, kind: str, summary: str, *, tenant_id: int | None = None
    ) -> bool:
        """Open incident `key` unless it is open; True if this call opened it (alerted)."""
        if key in self._open:
            return False
        try:
            opened = await self._write(key, kind, summary, OPENED, tenant_id)
        except Exception:  # alerting must never break what it watches
            log.exception("incident %s could not be recorded", key)
            return False
        self._open[key] = kind
        INCIDENTS_OPEN.labels(kind=kind).inc()
        if opened:
            ALERTS.labels(kind=kind, event="open").inc()
            log.error("ALERT %s: %s", key, summary)
        return opened

    async def recovered(self, key: str, summary: str) -> bool:
        """Close incident `key` if this process knows it open; True if this call closed it."""
        kind = self._open.pop(key, None)
        if kind is None:
            return False
        INCIDENTS_OPEN.labels(kind=kind).dec()
        try:
            closed = await self._write(key, kind, summary, RESOLVED, None)
        except Exception:  # alerting must never break what it watches
            log.exception("incident %s could not be closed", key)
            return False
        if closed:
            ALERTS.labels(kind=kind, event="resolved").inc()
            log.warning("RESOLVED %s: %s", key, summary)
        return closed

    async def _write(
        self, key: str, kind: str, summary: str, action: str, tenant_id: int | None
    ) -> bool:
        async with self._engine.begin() as conn:
            await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext("incident:" + key))))
            latest = (await conn.execute(_LATEST, {"key": key})).scalar()
            if (latest == OPENED) == (action == OPENED):
                return False  # already open (or already closed) by another process
            details: dict[str, Any] = {"key": key, "kind": kind, "summary": summary}
            await conn.execute(
                insert(AuditLog).values(
                    tenant_id=tenant_id, actor="chatcentral", action=action, details=details
                )
            )
            icon = "⚠️" if action == OPENED else "✅"
            await self._tell_operator(conn, f"{icon} chatcentral: {summary}")
        return True

    async def _tell_operator(self, conn: AsyncConnection, body: str) -> None:
        phone, slug = (
            self._settings.chatcentral_operator_phone,
            self._settings.chatcentral_operator_shop,
        )
        if not phone or not slug:
            return
        try:
            canonical = normalize_phone(phone)
        except InvalidPhone:
            log.error("CHATCENTRAL_OPERATOR_PHONE is not a phone number; alert not sent")
            return
        shop = (await conn.execute(select(Tenant.id).where(Tenant.slug == slug))).scalar()
        if shop is None:
            log.error("CHATCENTRAL_OPERATOR_SHOP %r is not a shop; alert not sent", slug)
            return
        payload = outbound.envelope(outbound.text(body[:4096]), to=canonical)
        await enqueue.queue_call(conn, shop, "alert", wa_id_of(canonical), payload)
