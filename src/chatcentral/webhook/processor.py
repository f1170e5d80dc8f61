"""Walks every entry, change, message and status of a verified webhook body.

Routing to the shop happens here and only here (by `metadata.phone_number_id`). What
the bot does not act on is stored raw in `central.unhandled_updates`, never dropped in
silence. A database outage propagates (the webhook answers 503 and Meta retries); any
other failure of one message is recorded with that message and the rest go on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.conversation.service import (
    ConversationService,
    Identity,
    Outcome,
    identity_of,
)
from chatcentral.db.engine import TenantBinder
from chatcentral.metrics import INBOUND_MESSAGES, UNHANDLED_UPDATES, UNKNOWN_NUMBERS
from chatcentral.models.central import UnhandledUpdate
from chatcentral.outbox.statuses import apply_statuses
from chatcentral.tenancy.directory import Shop, TenantDirectory
from chatcentral.whatsapp.payloads import (
    Change,
    InboundMessage,
    InvalidChange,
    InvalidItem,
    MessagesValue,
    StatusUpdate,
    WebhookEnvelope,
    contact_for,
    parse_message,
    parse_messages_value,
    parse_status,
)

log = logging.getLogger(__name__)

# Customers of one batch handled at once: few enough to leave pool connections for others.
CUSTOMERS_IN_PARALLEL = 4


class DatabaseUnavailable(Exception):
    """The database could not be reached; the webhook must not be acknowledged."""


class WebhookProcessor:
    def __init__(
        self,
        engine: AsyncEngine,
        directory: TenantDirectory,
        conversations: ConversationService,
    ) -> None:
        self._engine = engine
        self._binder = TenantBinder(engine)
        self._directory = directory
        self._conversations = conversations

    async def process(self, envelope: WebhookEnvelope) -> None:
        try:
            for entry in envelope.entry:
                for change in entry.changes:
                    await self._change(change)
        except (DBAPIError, PoolTimeout, OSError) as exc:
            if not _is_connectivity(exc):
                raise
            raise DatabaseUnavailable(type(exc).__name__) from exc

    async def _change(self, change: Change) -> None:
        if change.field != "messages":
            await self._store(None, change.field, f"field:{change.field}", change.value)
            return
        try:
            value = parse_messages_value(change.value)
        except InvalidChange as exc:
            await self._store(None, change.field, f"invalid change: {exc}", change.value)
            return
        number = value.metadata.phone_number_id
        shop = await self._directory.by_phone_number_id(number)
        if shop is None or not shop.active:
            reason = "unknown" if shop is None else "inactive"
            UNKNOWN_NUMBERS.labels(reason=reason).inc()
            log.warning("webhook for %s phone_number_id %s ignored", reason, number)
            return
        if value.errors:
            codes = [error.code for error in value.errors]
            log.warning("shop %s: webhook errors %s", shop.slug, codes)
            await self._store(number, change.field, f"errors:{codes}", change.value)
        await self._messages(shop, value)
        await self._statuses(shop, value)

    async def _messages(self, shop: Shop, value: MessagesValue) -> None:
        by_customer: dict[str, list[tuple[InboundMessage, Identity, dict[str, Any]]]] = {}
        for raw in value.messages:
            try:
                message = parse_message(raw)
            except InvalidItem as exc:
                await self._store(shop.phone_number_id, "messages", f"invalid message: {exc}", raw)
                continue
            identity = identity_of(message, contact_for(value, message))
            if identity is None:
                await self._store(shop.phone_number_id, "messages", "no sender id", raw)
                continue
            by_customer.setdefault(identity.recipient_key, []).append((message, identity, raw))
        # A batch (Meta sends up to 1,000 updates) is handled a few customers at a time; each
        # customer's messages one after the other, oldest first (Meta does not promise order).
        limit = asyncio.Semaphore(CUSTOMERS_IN_PARALLEL)

        async def one_customer(
            items: list[tuple[InboundMessage, Identity, dict[str, Any]]],
        ) -> None:
            async with limit:
                for message, identity, raw in sorted(items, key=lambda item: item[0].timestamp):
                    await self._message(shop, message, identity, raw)

        await asyncio.gather(*(one_customer(items) for items in by_customer.values()))

    async def _message(
        self, shop: Shop, message: InboundMessage, identity: Identity, raw: dict[str, Any]
    ) -> None:
        try:
            handled = await self._conversations.handle(
                self._binder.engine_for(shop.schema), shop, identity, message, raw
            )
            outcome = handled.value
        except (DBAPIError, PoolTimeout, OSError) as exc:
            if _is_connectivity(exc):
                raise
            outcome = await self._failed(shop, raw, exc)
        except Exception as exc:  # noqa: BLE001 - one poison message must not block the rest
            outcome = await self._failed(shop, raw, exc)
        INBOUND_MESSAGES.labels(outcome=outcome).inc()
        # Traceable without personal data: the shop, the wamid, the sender's last digits.
        log.info(
            "shop %s: %s %s from …%s: %s",
            shop.slug,
            message.type,
            message.id,
            identity.recipient_key[-4:],
            outcome,
        )

    async def _statuses(self, shop: Shop, value: MessagesValue) -> None:
        statuses: list[StatusUpdate] = []
        for raw in value.statuses:
            try:
                statuses.append(parse_status(raw))
            except InvalidItem as exc:
                await self._store(shop.phone_number_id, "statuses", f"invalid status: {exc}", raw)
        await apply_statuses(self._binder.engine_for(shop.schema), statuses)

    async def _failed(self, shop: Shop, raw: dict[str, Any], exc: BaseException) -> str:
        log.exception("shop %s: message %s could not be handled", shop.slug, raw.get("id"))
        await self._store(shop.phone_number_id, "messages", f"error: {type(exc).__name__}", raw)
        return "error"

    async def _store(
        self, phone_number_id: str | None, field: str, reason: str, payload: dict[str, Any]
    ) -> None:
        UNHANDLED_UPDATES.labels(reason=reason.split(":")[0]).inc()
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(UnhandledUpdate).values(
                    phone_number_id=phone_number_id,
                    field=field[:100],
                    reason=reason[:500],
                    payload=payload,
                )
            )


def _is_connectivity(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout | OSError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(getattr(exc.orig, "diag", None), "sqlstate", None) or ""
        # 08: connection exceptions; 57P: operator intervention (shutdown); 53: resources.
        return str(sqlstate).startswith(("08", "57P", "53"))
    return False


__all__ = ["DatabaseUnavailable", "Outcome", "WebhookProcessor"]
