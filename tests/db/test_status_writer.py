"""Status webhooks written together: what arrives while a write is under way goes in the
next one, every shop's in one round trip, and a failed write is handed back to each caller."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.outbox.statuses import StatusWriter
from chatcentral.whatsapp.payloads import StatusUpdate
from tests.conftest import ProvisionedShop
from tests.db.test_round_trips import traced


def sent_message(engine: Engine, schema: str, wamid: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {schema}.messages (direction, wamid, type, body, status) "
                "VALUES ('out', :wamid, 'text', '{}', 'accepted')"
            ),
            {"wamid": wamid},
        )


def status_of(engine: Engine, schema: str, wamid: str) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT status FROM {schema}.messages WHERE wamid = :wamid"), {"wamid": wamid}
        ).scalar_one()
    return str(found)


async def apply(
    writer: StatusWriter, engine: AsyncEngine, schema: str, statuses: list[StatusUpdate]
) -> None:
    """One webhook's statuses (none failed: no follow-up needs the shop's id)."""
    await writer.apply(engine, schema, statuses, tenant_id=0)


def update(wamid: str, status: str, at: int = 1_764_000_000) -> StatusUpdate:
    return StatusUpdate.model_validate({"id": wamid, "status": status, "timestamp": str(at)})


async def test_webhooks_that_arrive_together_are_one_round_trip_for_every_shop(
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    sync_engine: Engine,
    tmp_path: Path,
) -> None:
    grocery, water = shops["grocery"].schema, shops["water"].schema
    sent_message(sync_engine, grocery, "wamid.G1")
    sent_message(sync_engine, grocery, "wamid.G2")
    sent_message(sync_engine, water, "wamid.W1")
    writer = StatusWriter(async_engine)
    with traced(async_engine, tmp_path) as trace:
        await asyncio.gather(
            apply(
                writer,
                async_engine,
                grocery,
                [update("wamid.G1", "sent"), update("wamid.G1", "delivered")],
            ),
            apply(writer, async_engine, water, [update("wamid.W1", "read")]),
            apply(
                writer,
                async_engine,
                grocery,
                [update("wamid.G2", "delivered"), update("wamid.G1", "sent")],
            ),
        )
    assert trace.round_trips() == 1, trace.sent()
    assert status_of(sync_engine, grocery, "wamid.G1") == "delivered"  # never backwards
    assert status_of(sync_engine, grocery, "wamid.G2") == "delivered"
    assert status_of(sync_engine, water, "wamid.W1") == "read"
    with sync_engine.connect() as conn:
        recorded = conn.execute(text(f"SELECT count(*) FROM {grocery}.message_statuses"))
        assert recorded.scalar_one() == 3  # (G1, sent) once


async def test_a_failed_write_fails_each_webhook_of_it_and_the_next_write_goes_on(
    shops: dict[str, ProvisionedShop],
    async_engine: AsyncEngine,
    sync_engine: Engine,
) -> None:
    grocery = shops["grocery"].schema
    sent_message(sync_engine, grocery, "wamid.G1")
    writer = StatusWriter(async_engine)
    results = await asyncio.gather(
        apply(writer, async_engine, grocery, [update("wamid.G1", "delivered")]),
        apply(writer, async_engine, "tenant_missing", [update("wamid.X", "read")]),
        return_exceptions=True,
    )
    assert all(isinstance(result, Exception) for result in results)
    assert status_of(sync_engine, grocery, "wamid.G1") == "accepted"  # the write was one
    await apply(writer, async_engine, grocery, [update("wamid.G1", "delivered")])
    assert status_of(sync_engine, grocery, "wamid.G1") == "delivered"


@pytest.mark.usefixtures("shops")
async def test_nothing_to_write_costs_no_round_trip(
    async_engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = StatusWriter(async_engine)
    with traced(async_engine, tmp_path) as trace:
        await apply(writer, async_engine, "tenant_tienda", [])
    assert trace.round_trips() == 0
