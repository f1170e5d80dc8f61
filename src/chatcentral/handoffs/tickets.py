"""Opening and closing a customer's handoff ticket (one open ticket per customer)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.tenant import Handoff, Notification


@dataclass(frozen=True)
class Closed:
    id: int
    claimed_by: str | None


async def open_handoff(conn: AsyncConnection, customer_id: int, reason: str | None) -> int | None:
    """Open a ticket unless one is open already; return the new ticket's id (None when one
    was open). The wait for a person starts now (the timeout's clock)."""
    opened = await conn.execute(
        pg_insert(Handoff)
        .values(customer_id=customer_id, reason=reason, waiting_since=func.now())
        .on_conflict_do_nothing(
            index_elements=[Handoff.customer_id], index_where=Handoff.status != "closed"
        )
        .returning(Handoff.id)
    )
    handoff_id = opened.scalar()
    if handoff_id is not None:
        # Recorded as delivered: the relay tells the admins in this same transaction
        # (`handoffs/relay.py` `opened`), so nothing else must send it again.
        await conn.execute(
            insert(Notification).values(
                kind="handoff.opened",
                payload={"handoff_id": handoff_id, "customer_id": customer_id},
                delivered_at=func.now(),
            )
        )
    return int(handoff_id) if handoff_id is not None else None


async def close_handoff(conn: AsyncConnection, customer_id: int) -> list[Closed]:
    """Close the customer's open ticket (the customer went back to the menu)."""
    result = await conn.execute(
        update(Handoff)
        .where(Handoff.customer_id == customer_id, Handoff.status != "closed")
        .values(status="closed", closed_at=func.now(), waiting_since=None)
        .returning(Handoff.id, Handoff.claimed_by)
    )
    return [Closed(int(row.id), row.claimed_by) for row in result]
