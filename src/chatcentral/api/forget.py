"""Forgetting a customer: erase who they were, keep what the shop sold.

Erased: the name and WhatsApp number (the row keeps a placeholder id, so a new message
from the same number starts a new customer), every saved address, the address, pin,
notes and payment receipt of each order, the conversation's saved state, the text of
every message to, from or about the customer (their own, the relay of their handoffs,
the admins' news of their orders), and the same calls already made in `central.outbox`.
Kept: each order's items, totals, status and history, tied to the placeholder.

Locks follow the customer's own unit of work (customer row, then session row), so a
message arriving meanwhile waits and then finds no one.
"""

from __future__ import annotations

from sqlalchemy import String, case, cast, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.central import Outbox
from chatcentral.models.tenant import (
    Customer,
    CustomerAddress,
    CustomerSession,
    Handoff,
    Message,
    Notification,
    Order,
)
from chatcentral.notifications.notify import callback_data

# A forgotten customer's `bsuid`: the table needs a phone or a BSUID on every row.
FORGOTTEN = "forgotten:"
_EMPTY = cast({}, JSONB)


async def forget(conn: AsyncConnection, tenant_id: int, customer_id: int) -> dict[str, int] | None:
    """Erase customer `customer_id` (the connection is bound to the shop's schema), in
    the caller's transaction; None when the shop has no such customer. Returns counts
    of what was erased (no personal data: they go to the audit log)."""
    who = (
        await conn.execute(
            select(Customer.wa_id, Customer.bsuid)
            .where(Customer.id == customer_id)
            .with_for_update()
        )
    ).first()
    if who is None:
        return None
    await conn.execute(
        select(CustomerSession.id)
        .where(CustomerSession.customer_id == customer_id)
        .with_for_update()
    )
    addresses = [who.wa_id, who.bsuid]
    recipients = [a for a in addresses if a and not a.startswith(FORGOTTEN)]
    handoffs = select(Handoff.id).where(Handoff.customer_id == customer_id)
    notifications = (
        await conn.execute(
            select(Notification.id).where(
                Notification.payload["customer_id"].astext == str(customer_id)
            )
        )
    ).scalars()
    callbacks = [callback_data(int(n)) for n in notifications]

    # Their own messages and those relayed in their handoffs (both ways, admins included).
    theirs = or_(Message.customer_id == customer_id, Message.handoff_id.in_(handoffs))
    # The calls already made (sent or failed) to the customer, or about them to admins:
    # the relay's (tied to a message above) and the news of their orders (by callback).
    about = [Outbox.message_id.in_(select(Message.id).where(theirs))]
    if callbacks:
        about.append(Outbox.payload["biz_opaque_callback_data"].astext.in_(callbacks))
    calls = await conn.execute(
        update(Outbox)
        .where(
            Outbox.tenant_id == tenant_id,
            Outbox.status != "pending",
            or_(Outbox.recipient.in_(recipients), *about),
        )
        .values(
            payload=_EMPTY,
            fallback=None,
            # The admins' rows keep their recipient (an admin); the customer's lose theirs.
            recipient=case(
                (Outbox.recipient.in_(recipients), FORGOTTEN + str(customer_id)),
                else_=Outbox.recipient,
            ),
        )
        .returning(Outbox.message_id, Outbox.recipient)
    )
    outbox_rows = calls.all()
    message_ids = [int(row.message_id) for row in outbox_rows if row.message_id is not None]
    messages = await conn.execute(
        update(Message).where(or_(theirs, Message.id.in_(message_ids))).values(body=_EMPTY)
    )
    await conn.execute(
        update(Handoff)
        .where(Handoff.customer_id == customer_id)
        .values(
            status="closed",
            reason=None,
            closed_at=func.coalesce(Handoff.closed_at, func.now()),
            waiting_since=None,
        )
    )
    await conn.execute(delete(CustomerSession).where(CustomerSession.customer_id == customer_id))
    orders = await conn.execute(
        update(Order)
        .where(Order.customer_id == customer_id)
        .values(
            address_id=None,
            address_text=None,
            latitude=None,
            longitude=None,
            notes=None,
            payment_proof_media_id=None,
        )
    )
    gone = await conn.execute(
        delete(CustomerAddress).where(CustomerAddress.customer_id == customer_id)
    )
    await conn.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(
            name=None,
            wa_id=None,
            bsuid=cast(FORGOTTEN + str(customer_id), String),
            last_inbound_at=None,
            last_reminded_at=None,
            reminders_opt_out=True,
        )
    )
    return {
        "messages": messages.rowcount,
        "outbox_calls": len(outbox_rows),
        "orders": orders.rowcount,
        "addresses": gone.rowcount,
    }
