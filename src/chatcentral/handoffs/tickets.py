"""Opening and closing a customer's handoff ticket (one open ticket per customer)."""

from __future__ import annotations

from sqlalchemy import func, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.tenant import Handoff, Notification


async def open_handoff(conn: AsyncConnection, customer_id: int, reason: str | None) -> None:
    """Open a ticket unless one is open already; the shop's staff are notified once."""
    opened = await conn.execute(
        pg_insert(Handoff)
        .values(customer_id=customer_id, reason=reason)
        .on_conflict_do_nothing(
            index_elements=[Handoff.customer_id], index_where=Handoff.status != "closed"
        )
        .returning(Handoff.id)
    )
    handoff_id = opened.scalar()
    if handoff_id is not None:
        await conn.execute(
            insert(Notification).values(
                kind="handoff.opened",
                payload={"handoff_id": handoff_id, "customer_id": customer_id},
            )
        )


async def close_handoff(conn: AsyncConnection, customer_id: int) -> None:
    await conn.execute(
        update(Handoff)
        .where(Handoff.customer_id == customer_id, Handoff.status != "closed")
        .values(status="closed", closed_at=func.now())
    )
