"""One inbound message, handled exactly once, in one transaction in the shop's schema.

Record the message (its wamid is unique: a redelivery stops here), get or create the
customer, lock the customer's session row so their messages are handled one at a time,
let the engine decide, apply its effects, queue the replies in the outbox, commit. Only
then does the webhook answer 200.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.conversation import engine as conversation_engine
from chatcentral.conversation.events import event_from
from chatcentral.db.listener import OUTBOX_CHANNEL
from chatcentral.models.central import Outbox
from chatcentral.models.tenant import Customer, CustomerSession, Message
from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of
from chatcentral.tenancy.directory import Shop
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.payloads import Contact, InboundMessage

log = logging.getLogger(__name__)

DEFAULT_SESSION_MINUTES = 30


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    STALE = "stale"  # older than what the session already handled: recorded, state kept


@dataclass(frozen=True)
class Identity:
    """Who wrote: the canonical phone digits and/or the business-scoped user id."""

    wa_id: str | None
    bsuid: str | None
    name: str | None

    @property
    def address(self) -> dict[str, str]:
        """How to address a reply: by phone when known, else by BSUID."""
        if self.wa_id:
            return {"to": "+" + self.wa_id}
        assert self.bsuid is not None
        return {"recipient": self.bsuid}

    @property
    def recipient_key(self) -> str:
        return self.wa_id or self.bsuid or ""


def identity_of(message: InboundMessage, contact: Contact | None) -> Identity | None:
    """The sender's identity, or None when the message names nobody we could answer."""
    phone = message.from_ or (contact.wa_id if contact else None)
    bsuid = message.from_user_id or (contact.user_id if contact else None)
    wa_id = _canonical_wa_id(phone) if phone else None
    if not wa_id and not bsuid:
        return None
    return Identity(wa_id=wa_id, bsuid=bsuid, name=contact.name if contact else None)


def _canonical_wa_id(phone: str) -> str:
    try:
        return wa_id_of(normalize_phone(phone))
    except InvalidPhone:
        # Test numbers and new ranges phonenumbers does not know yet: keep WhatsApp's digits.
        return "".join(ch for ch in phone if ch.isdigit())


class ConversationService:
    def __init__(self, *, mark_read: bool = True) -> None:
        self._mark_read = mark_read

    async def handle(
        self,
        tenant_engine: AsyncEngine,
        shop: Shop,
        identity: Identity,
        message: InboundMessage,
        raw: dict[str, Any],
    ) -> Outcome:
        """Handle one message in its own transaction; idempotent on the wamid."""
        sent_at = datetime.fromtimestamp(message.timestamp, tz=UTC)
        async with tenant_engine.connect() as conn:
            transaction = await conn.begin()
            customer_id = await _upsert_customer(conn, identity)
            message_id = await _record_inbound(conn, customer_id, message, raw)
            if message_id is None:
                await transaction.rollback()
                return Outcome.DUPLICATE
            session = await _lock_session(conn, customer_id)
            if session.last_message_at is not None and sent_at < session.last_message_at:
                await conn.execute(
                    update(Message).where(Message.id == message_id).values(status="stale")
                )
                await transaction.commit()
                return Outcome.STALE
            state, context = _current(session)
            decision = conversation_engine.decide(shop, state, context, event_from(message))
            await self._queue_replies(conn, shop, identity, customer_id, message, decision)
            await conn.execute(
                update(CustomerSession)
                .where(CustomerSession.id == session.id)
                .values(
                    state=decision.state,
                    context=decision.context,
                    version=CustomerSession.version + 1,
                    last_message_at=func.greatest(CustomerSession.last_message_at, sent_at),
                    updated_at=func.now(),
                    expires_at=func.now() + _session_timeout(shop),
                )
            )
            await transaction.commit()
        return Outcome.HANDLED

    async def _queue_replies(
        self,
        conn: AsyncConnection,
        shop: Shop,
        identity: Identity,
        customer_id: int,
        message: InboundMessage,
        decision: conversation_engine.Decision,
    ) -> None:
        if not decision.replies:
            return
        rows = await conn.execute(
            insert(Message).returning(Message.id, sort_by_parameter_order=True),
            [
                {
                    "customer_id": customer_id,
                    "direction": "out",
                    "type": reply.get("type", "unknown"),
                    "body": reply,
                    "status": "queued",
                }
                for reply in decision.replies
            ],
        )
        ids = [row.id for row in rows]
        outbox = [
            {
                "tenant_id": shop.id,
                "kind": "message",
                "recipient": identity.recipient_key,
                "payload": outbound.envelope(reply, **identity.address),
                "message_id": message_id,
            }
            for reply, message_id in zip(decision.replies, ids, strict=True)
        ]
        if self._mark_read:
            # Same recipient queue: it goes out right after the reply, never before it.
            outbox.append(
                {
                    "tenant_id": shop.id,
                    "kind": "mark_read",
                    "recipient": identity.recipient_key,
                    "payload": outbound.mark_read(message.id),
                    "message_id": None,
                }
            )
        await conn.execute(insert(Outbox), outbox)
        await conn.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))


async def _upsert_customer(conn: AsyncConnection, identity: Identity) -> int:
    """Find the customer by BSUID or phone, linking the two when both arrive."""
    now = func.now()
    keys = []
    if identity.bsuid:
        keys.append(Customer.bsuid == identity.bsuid)
    if identity.wa_id:
        keys.append(Customer.wa_id == identity.wa_id)
    found = (
        await conn.execute(select(Customer.id, Customer.wa_id, Customer.bsuid).where(or_(*keys)))
    ).all()
    if not found:
        created = (
            await conn.execute(
                pg_insert(Customer)
                .values(
                    wa_id=identity.wa_id,
                    bsuid=identity.bsuid,
                    name=identity.name,
                    last_inbound_at=now,
                )
                .on_conflict_do_nothing()
                .returning(Customer.id)
            )
        ).scalar()
        if created is not None:
            return int(created)
        # A concurrent message from the same new customer created the row first.
        return await _upsert_customer(conn, identity)
    # Prefer the row keyed on the business-scoped id when identities were split.
    row = next((r for r in found if identity.bsuid and r.bsuid == identity.bsuid), found[0])
    if len(found) > 1:
        log.warning("customer identities split across rows %s", [r.id for r in found])
    values: dict[str, Any] = {"last_inbound_at": now}
    if identity.name:
        values["name"] = identity.name
    if identity.bsuid and row.bsuid is None:
        values["bsuid"] = identity.bsuid
    if identity.wa_id and row.wa_id is None and len(found) == 1:
        values["wa_id"] = identity.wa_id
    await conn.execute(update(Customer).where(Customer.id == row.id).values(**values))
    return int(row.id)


async def _record_inbound(
    conn: AsyncConnection, customer_id: int, message: InboundMessage, raw: dict[str, Any]
) -> int | None:
    inserted = await conn.execute(
        pg_insert(Message)
        .values(
            customer_id=customer_id,
            direction="in",
            wamid=message.id,
            type=message.type,
            body=raw,
            status="received",
            sent_at=datetime.fromtimestamp(message.timestamp, tz=UTC),
        )
        .on_conflict_do_nothing(index_elements=[Message.wamid])
        .returning(Message.id)
    )
    value = inserted.scalar()
    return int(value) if value is not None else None


_SESSION_COLUMNS = (
    CustomerSession.id,
    CustomerSession.state,
    CustomerSession.context,
    CustomerSession.last_message_at,
    CustomerSession.expires_at,
)


async def _lock_session(conn: AsyncConnection, customer_id: int) -> Row[Any]:
    """The customer's session row, locked until commit; created on first contact."""
    query = select(*_SESSION_COLUMNS).where(CustomerSession.customer_id == customer_id)
    row = (await conn.execute(query.with_for_update())).first()
    if row is not None:
        return row
    await conn.execute(
        pg_insert(CustomerSession)
        .values(customer_id=customer_id, state="new", context={})
        .on_conflict_do_nothing(index_elements=[CustomerSession.customer_id])
    )
    return (await conn.execute(query.with_for_update())).one()


def _current(session: Row[Any]) -> tuple[str, dict[str, Any]]:
    """State and context to decide from; an expired session starts over."""
    expired = session.expires_at is not None and session.expires_at < datetime.now(UTC)
    if expired:
        return "expired", {"previous_state": session.state, "previous": session.context}
    return session.state, dict(session.context or {})


def _session_timeout(shop: Shop) -> timedelta:
    minutes = shop.settings.get("session_timeout_minutes", DEFAULT_SESSION_MINUTES)
    return timedelta(minutes=int(minutes))
