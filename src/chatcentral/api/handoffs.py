"""Conversations a customer asked a person for: the open ones, one with its messages, an
answer that reaches the customer on WhatsApp, and closing it. Answers and closing go
through `handoffs/relay.py` (`answer`, `close`), as an admin's WhatsApp reply does: the
message leaves through the outbox, the handoff is taken, the other admins are told."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.api.fields import LongText
from chatcentral.api.problems import conflict, not_found
from chatcentral.handoffs import queries, relay


class HandoffOut(BaseModel):
    id: int
    customer: str = Field(description="the customer's WhatsApp name, else their number")
    phone: str | None
    opened_at: datetime
    waiting_since: datetime | None = Field(description="null: answered, nobody waiting")
    claimed_by: str | None


class HandoffList(BaseModel):
    items: list[HandoffOut]


class HandoffMessage(BaseModel):
    id: int
    direction: Literal["in", "out"]
    type: str
    text: str | None = Field(description="the text or caption, when the message has one")
    created_at: datetime


class HandoffDetail(BaseModel):
    id: int
    status: Literal["open", "claimed", "closed"]
    customer_id: int
    customer: str
    phone: str | None
    reason: str | None
    claimed_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    waiting_since: datetime | None
    messages: list[HandoffMessage] = Field(
        description=f"oldest first, the latest {queries.MESSAGES_MAX}"
    )


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: LongText


def _who(claimed_by: str | None) -> str | None:
    """An API key that took a handoff is named as such, not as a phone number."""
    if claimed_by is None:
        return None
    return claimed_by.removeprefix("+") if claimed_by.startswith("+api:") else claimed_by


async def list_handoffs(call: Call) -> HandoffList:
    """Open handoffs: the ones waiting for an answer first (longest wait first)."""
    briefs = await relay.open_handoffs(call.conn, call.caller.shop)
    return HandoffList(
        items=[
            HandoffOut(
                id=b.id,
                customer=b.customer,
                phone=b.phone,
                opened_at=b.opened_at,
                waiting_since=b.waiting_since,
                claimed_by=_who(b.claimed_by),
            )
            for b in briefs
        ]
    )


async def _detail(conn: AsyncConnection, handoff_id: int) -> HandoffDetail | None:
    found = await queries.thread(conn, handoff_id)
    return HandoffDetail.model_validate(found, from_attributes=True) if found else None


async def get_handoff(call: Call) -> HandoffDetail:
    """One handoff with the messages relayed in it, both ways."""
    handoff = await _detail(call.conn, call.path["handoff_id"])
    if handoff is None:
        raise not_found(f"no conversation {call.path['handoff_id']} in this shop")
    return handoff


async def reply_handoff(call: Call) -> HandoffDetail:
    """Answer the customer from the shop's number; the first answer takes the handoff
    and the shop's admins are told who did."""
    handoff_id = call.path["handoff_id"]
    text = call.body(Reply).text
    # The relay only refuses the same cases, in Spanish for admins.
    check = await queries.check_reply(call.conn, handoff_id)
    if check == "not_found":
        raise not_found(f"no conversation {handoff_id} in this shop")
    if check == "closed":
        raise conflict("handoff-closed", f"conversation {handoff_id} is closed")
    if check == "window_closed":
        raise conflict(
            "window-closed",
            "the customer has not written in 24 hours: WhatsApp delivers no free-form "
            "message until they write again",
        )
    principal = call.caller.principal
    await relay.answer(
        call.conn,
        call.caller.shop,
        handoff_id,
        principal.actor,
        text,
        admin_name=f"{principal.name} (API)",
    )
    detail = await _detail(call.conn, handoff_id)
    assert detail is not None
    return detail


async def close_handoff(call: Call) -> HandoffDetail:
    """End the handoff: the customer is back at the bot's menu and told so (when WhatsApp
    allows a message), the other admins hear who closed it."""
    handoff_id = call.path["handoff_id"]
    status = await queries.status_of(call.conn, handoff_id)
    if status is None:
        raise not_found(f"no conversation {handoff_id} in this shop")
    if status == "closed":
        raise conflict("handoff-closed", f"conversation {handoff_id} is already closed")
    principal = call.caller.principal
    await relay.close(
        call.conn,
        call.caller.shop,
        handoff_id,
        principal.actor,
        admin_name=f"{principal.name} (API)",
    )
    detail = await _detail(call.conn, handoff_id)
    assert detail is not None
    return detail


ENDPOINTS = (
    Endpoint(
        "GET",
        "/handoffs",
        list_handoffs,
        "Open conversations waiting for a person",
        "handoffs",
        response=HandoffList,
    ),
    Endpoint(
        "GET",
        "/handoffs/{handoff_id:int}",
        get_handoff,
        "One conversation with its relayed messages",
        "handoffs",
        response=HandoffDetail,
        problems=(404,),
    ),
    Endpoint(
        "POST",
        "/handoffs/{handoff_id:int}/reply",
        reply_handoff,
        "Answer the customer on WhatsApp",
        "handoffs",
        response=HandoffDetail,
        body=Reply,
        problems=(404, 409),
        description="409 when the conversation is closed or the customer's 24-hour "
        "window is closed (WhatsApp would not deliver the answer).",
    ),
    Endpoint(
        "POST",
        "/handoffs/{handoff_id:int}/close",
        close_handoff,
        "Close the conversation; the customer returns to the bot's menu",
        "handoffs",
        response=HandoffDetail,
        problems=(404, 409),
    ),
)
