"""Reading handoffs for the staff's screens (the admin API and the panel): one handoff
with the messages relayed in it, a preview of the open ones, and the checks an answer or
a close must pass before `relay.answer`/`relay.close` run. The connection is bound to
the shop's schema, so another shop's handoff is never found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.handoff_views import customer_label
from chatcentral.models.tenant import Customer, Handoff, Message
from chatcentral.notifications.window import WINDOW

MESSAGES_MAX = 100  # the latest messages of one handoff shown

ReplyCheck = Literal["ok", "not_found", "closed", "window_closed"]


@dataclass(frozen=True)
class ThreadMessage:
    id: int
    direction: str  # "in" from the customer, "out" from the shop
    type: str
    text: str | None  # the text or caption, when the message has one
    created_at: datetime
    status: str
    media_state: str | None  # inbound media: pending, stored or failed


@dataclass(frozen=True)
class Thread:
    """One handoff and its messages, oldest first (the latest MESSAGES_MAX)."""

    id: int
    status: str
    customer_id: int
    customer: str
    phone: str | None
    reason: str | None
    claimed_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    waiting_since: datetime | None
    messages: tuple[ThreadMessage, ...]


@dataclass(frozen=True)
class Preview:
    """What an open handoff is about: why it was opened and the customer's last word."""

    reason: str | None
    last_text: str | None
    last_type: str | None
    last_at: datetime | None


_HANDOFF = (
    select(
        Handoff.id,
        Handoff.status,
        Handoff.customer_id,
        Customer.name,
        Customer.wa_id,
        Handoff.reason,
        Handoff.claimed_by,
        Handoff.opened_at,
        Handoff.closed_at,
        Handoff.waiting_since,
    )
    .join(Customer, Customer.id == Handoff.customer_id)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
)
_MESSAGES = (
    select(
        Message.id,
        Message.direction,
        Message.type,
        Message.body,
        Message.created_at,
        Message.status,
        Message.media_state,
    )
    .where(
        Message.handoff_id == bindparam("handoff_id", type_=BigInteger),
        Message.customer_id == bindparam("customer_id", type_=BigInteger),
    )
    .order_by(Message.id.desc())
    .limit(MESSAGES_MAX)
)
# Locked as the relay locks it, so the checks still hold when it queues the answer.
_REPLY_STATE = (
    select(Handoff.status, (Customer.last_inbound_at > func.now() - WINDOW).label("window_open"))
    .join(Customer, Customer.id == Handoff.customer_id)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
    .with_for_update(of=Handoff)
)
_STATUS = select(Handoff.status).where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
_LAST_IN = (
    select(Handoff.id, Handoff.reason, Message.type, Message.body, Message.created_at)
    .outerjoin(
        Message,
        (Message.handoff_id == Handoff.id)
        & (Message.customer_id == Handoff.customer_id)
        & (Message.direction == "in"),
    )
    .where(Handoff.id.in_(bindparam("handoff_ids", expanding=True)))
    .order_by(Handoff.id, Message.id.desc())
    .ext(distinct_on(Handoff.id))
)


def text_of(body: dict[str, Any]) -> str | None:
    """A message's text, caption or interactive body, when it has one."""
    kind = body.get("type")
    part = body.get(kind) if isinstance(kind, str) else None
    if isinstance(part, dict):
        for key in ("body", "caption"):
            if isinstance(part.get(key), str):
                return str(part[key])
        inner = part.get("body")
        if isinstance(inner, dict) and isinstance(inner.get("text"), str):
            return str(inner["text"])  # an interactive message
    return None


async def thread(conn: AsyncConnection, handoff_id: int) -> Thread | None:
    """One handoff with the messages relayed in it, both ways; None when unknown."""
    row = (await conn.execute(_HANDOFF, {"handoff_id": handoff_id})).first()
    if row is None:
        return None
    params = {"handoff_id": handoff_id, "customer_id": row.customer_id}
    latest = reversed((await conn.execute(_MESSAGES, params)).all())
    return Thread(
        id=row.id,
        status=row.status,
        customer_id=row.customer_id,
        customer=customer_label(row.name, row.wa_id),
        phone=row.wa_id,
        reason=row.reason,
        claimed_by=row.claimed_by,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        waiting_since=row.waiting_since,
        messages=tuple(
            ThreadMessage(
                id=m.id,
                direction=m.direction,
                type=m.type,
                text=text_of(m.body or {}),
                created_at=m.created_at,
                status=m.status,
                media_state=m.media_state,
            )
            for m in latest
        ),
    )


async def previews(conn: AsyncConnection, handoff_ids: list[int]) -> dict[int, Preview]:
    """The reason and the customer's latest message of each handoff in `handoff_ids`."""
    if not handoff_ids:
        return {}
    rows = (await conn.execute(_LAST_IN, {"handoff_ids": handoff_ids})).all()
    return {
        int(row.id): Preview(
            reason=row.reason,
            last_text=text_of(row.body) if row.body else None,
            last_type=row.type,
            last_at=row.created_at,
        )
        for row in rows
    }


async def check_reply(conn: AsyncConnection, handoff_id: int) -> ReplyCheck:
    """Whether an answer to handoff `handoff_id` can reach its customer now (WhatsApp
    delivers no free-form message outside the customer's 24-hour window). Locks the
    handoff row for the rest of the transaction."""
    row = (await conn.execute(_REPLY_STATE, {"handoff_id": handoff_id})).first()
    if row is None:
        return "not_found"
    if row.status == "closed":
        return "closed"
    return "ok" if row.window_open else "window_closed"


async def status_of(conn: AsyncConnection, handoff_id: int) -> str | None:
    """open, claimed or closed; None when there is no such handoff."""
    value = (await conn.execute(_STATUS, {"handoff_id": handoff_id})).scalar()
    return str(value) if value is not None else None
