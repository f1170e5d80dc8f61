"""Walks every entry, change, message and status of a verified webhook body.

Routing to the shop happens here and only here (by `metadata.phone_number_id`). What
the bot does not act on is stored raw in `central.unhandled_updates`, never dropped in
silence.

One rule for failures. Trouble with the database itself (refused, reset, timed out, shut
down, out of resources, pool exhausted) raises DatabaseUnavailable: the webhook answers
503, acknowledges nothing, and Meta retries. Only when the database is healthy and an item
itself is the problem is that item recorded as unhandled, in a transaction of its own,
and the rest go on; if even that record fails, it is DatabaseUnavailable again. A failure
that does not say which it is costs one round trip to the database to find out, so the
healthy path pays nothing for the rule.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import TenantBinder
from chatcentral.db.errors import database_trouble
from chatcentral.inbound.identity import Identity, identity_of
from chatcentral.inbound.service import ConversationService, Outcome
from chatcentral.logs import log_context
from chatcentral.metrics import INBOUND_MESSAGES, UNHANDLED_UPDATES, UNKNOWN_NUMBERS
from chatcentral.models.central import UnhandledUpdate
from chatcentral.outbox.statuses import StatusWriter, apply_statuses
from chatcentral.tenancy.directory import TenantDirectory
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
    storable_text,
)

log = logging.getLogger(__name__)

# Customers of one batch handled at once: few enough to leave pool connections for others.
CUSTOMERS_IN_PARALLEL = 4

# How long the database may take to answer `SELECT 1` before it counts as unavailable.
PROBE_TIMEOUT_S = 2.0


class DatabaseUnavailable(Exception):
    """The database could not be reached, or could not record what had to be recorded: the
    webhook must not be acknowledged."""


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
        self._status_writer = StatusWriter(engine)

    async def process(self, envelope: WebhookEnvelope) -> None:
        """Handle every item; raise DatabaseUnavailable when the database is the problem."""
        try:
            for entry in envelope.entry:
                for change in entry.changes:
                    await self._change(change)
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            if await self._database_trouble(exc):
                raise DatabaseUnavailable(_summary(exc)) from exc
            raise

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
        with log_context(shop=shop.slug):
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

        # Every customer's task ends before the answer is given: none is left running
        # against the database once the webhook has said 503.
        results = await asyncio.gather(
            *(one_customer(items) for items in by_customer.values()), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            unavailable = [f for f in failures if isinstance(f, DatabaseUnavailable)]
            raise (unavailable or failures)[0]

    async def _message(
        self, shop: Shop, message: InboundMessage, identity: Identity, raw: dict[str, Any]
    ) -> None:
        with log_context(wamid=message.id):
            await self._handle(shop, message, identity, raw)

    async def _handle(
        self, shop: Shop, message: InboundMessage, identity: Identity, raw: dict[str, Any]
    ) -> None:
        try:
            handled = await self._conversations.handle(
                self._binder.engine_for(shop.schema), shop, identity, message, raw
            )
            outcome = handled.value
        except Exception as exc:  # one poison message must not block the rest
            if await self._database_trouble(exc):
                raise DatabaseUnavailable(_summary(exc)) from exc
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
        parsed: list[tuple[StatusUpdate, dict[str, Any]]] = []
        for raw in value.statuses:
            try:
                parsed.append((parse_status(raw), raw))
            except InvalidItem as exc:
                await self._store(shop.phone_number_id, "statuses", f"invalid status: {exc}", raw)
        if not parsed:
            return
        engine = self._binder.engine_for(shop.schema)
        statuses = [status for status, _ in parsed]
        try:
            await self._status_writer.apply(engine, shop.schema, statuses, tenant_id=shop.id)
            return
        except Exception as exc:  # one bad status must not sink the batch
            if await self._database_trouble(exc):
                raise DatabaseUnavailable(_summary(exc)) from exc
            log.warning(
                "shop %s: %d statuses failed together (%s); applying one at a time",
                shop.slug,
                len(parsed),
                _summary(exc),
            )
        for status, raw in parsed:
            try:
                await apply_statuses(engine, shop.schema, [status], tenant_id=shop.id)
            except Exception as exc:  # keep the bad one, apply the rest
                if await self._database_trouble(exc):
                    raise DatabaseUnavailable(_summary(exc)) from exc
                log.exception("shop %s: status %s could not be applied", shop.slug, status.id)
                reason = f"error: {type(exc).__name__}"
                await self._store(shop.phone_number_id, "statuses", reason, raw)

    async def _failed(self, shop: Shop, raw: dict[str, Any], exc: BaseException) -> str:
        log.exception("shop %s: message %s could not be handled", shop.slug, raw.get("id"))
        await self._store(shop.phone_number_id, "messages", f"error: {type(exc).__name__}", raw)
        return "error"

    async def _store(
        self, phone_number_id: str | None, field: str, reason: str, payload: dict[str, Any]
    ) -> None:
        """Record one update as unhandled in a transaction of its own. Raise
        DatabaseUnavailable when that fails: nothing is acknowledged unless recorded."""
        row: dict[str, Any] = {
            "phone_number_id": phone_number_id and storable_text(phone_number_id),
            "field": storable_text(field[:100]),
            "reason": storable_text(reason[:500]),
            "payload": payload,
        }
        try:
            await self._insert_unhandled(row)
        except Exception as exc:  # classified below, never a 500
            if await self._database_trouble(exc):
                raise DatabaseUnavailable(_summary(exc)) from exc
            # Parsing already made the payload storable, so this is the last resort for
            # what slipped through: keep it as escaped ASCII text, which jsonb always takes.
            log.warning("unhandled payload refused (%s); stored escaped", _summary(exc))
            row["payload"] = {"escaped": _escaped(payload)}
            try:
                await self._insert_unhandled(row)
            except Exception as again:  # not recorded: not acknowledged
                raise DatabaseUnavailable(_summary(again)) from again
        UNHANDLED_UPDATES.labels(reason=reason.split(":")[0]).inc()

    async def _insert_unhandled(self, row: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(UnhandledUpdate).values(**row))

    async def _database_trouble(self, exc: BaseException) -> bool:
        """Whether `exc` means the database, not the item, is the problem."""
        verdict = _verdict(exc)
        if verdict is None:
            verdict = not await self._database_answers()
            log.warning("unclassified %s: database %s", _summary(exc), "down" if verdict else "up")
        return verdict

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                async with self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - whatever the reason, the database did not answer
            return False
        return True


def _verdict(exc: BaseException) -> bool | None:
    """True when `exc` is database trouble, False when the item (or the code handling it)
    is at fault, None when only asking the database can tell."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    return database_trouble(exc)


def _summary(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def _escaped(payload: dict[str, Any]) -> str:
    try:
        return json.dumps(payload, ensure_ascii=True, default=repr)
    except (ValueError, RecursionError):
        return "(nested too deeply to keep)"


__all__ = ["DatabaseUnavailable", "Outcome", "WebhookProcessor"]
