"""Applying the engine's effects inside the message's transaction."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.effects import (
    CloseHandoff,
    Effect,
    OpenHandoff,
    Outcome,
    PlaceOrder,
    RelayToStaff,
    SetReminders,
)
from chatcentral.conversation.shop import Shop
from chatcentral.handoffs import relay
from chatcentral.handoffs.tickets import close_handoff, open_handoff
from chatcentral.models.tenant import Customer
from chatcentral.orders.placement import place_order


async def apply(
    conn: AsyncConnection, shop: Shop, customer_id: int, effect: Effect, source_wamid: str
) -> Outcome | None:
    """Do one effect; return its outcome when the engine must hear about it."""
    match effect:
        case PlaceOrder():
            return await place_order(conn, shop, customer_id, effect, source_wamid)
        case OpenHandoff(reason=reason):
            handoff_id = await open_handoff(conn, customer_id, reason)
            if handoff_id is not None:
                await relay.opened(conn, shop, customer_id, handoff_id)
        case CloseHandoff():
            for closed in await close_handoff(conn, customer_id):
                await relay.customer_left(conn, shop, customer_id, closed)
        case RelayToStaff(event=event):
            await relay.forward(conn, shop, customer_id, event, source_wamid)
        case SetReminders(opt_out=opt_out):
            await conn.execute(
                update(Customer).where(Customer.id == customer_id).values(reminders_opt_out=opt_out)
            )
    return None
