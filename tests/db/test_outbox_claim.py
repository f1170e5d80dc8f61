"""The claim and the idle loop's next-due query keep their shape with a big backlog:
plans read from EXPLAIN (no timing), and which rows each one sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.outbox import sql as dispatcher_sql
from chatcentral.outbox.dispatcher import Dispatcher
from tests.conftest import ProvisionedShop

PENDING = 100_000
RECIPIENTS = 20_000


def _fill(engine: Engine, tenant_id: int) -> None:
    """100,000 pending rows (five per customer) behind 100,000 already sent ones."""
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO central.outbox (tenant_id, kind, recipient, payload, status)
                SELECT :t, 'message', 'r' || (g % :n), '{}'::jsonb,
                       CASE WHEN g <= :p THEN 'sent' ELSE 'pending' END
                FROM generate_series(1, 2 * :p) g
                """
            ),
            {"t": tenant_id, "n": RECIPIENTS, "p": PENDING},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE central.outbox"))


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(engine: Engine, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        [[explained]] = conn.execute(text("EXPLAIN (FORMAT JSON) " + sql), params).all()
    return list(_nodes(explained[0]["Plan"]))


def _assert_no_full_walk(nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        assert not (node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "outbox"), node
        assert node.get("Join Type") != "Anti", node  # no anti-join over the backlog
        assert node["Node Type"] not in {"Sort", "Hash", "Materialize"}, node


def test_the_claim_walks_pending_ids_and_probes_each_queue_head(
    sync_engine: Engine, shops: dict[str, ProvisionedShop]
) -> None:
    _fill(sync_engine, shops["grocery"].id)
    nodes = _plan(sync_engine, dispatcher_sql.CLAIM.text, {"limit": 32, "lease": 60.0, "full": []})
    _assert_no_full_walk(nodes)
    indexes = {node.get("Index Name") for node in nodes}
    assert "ix_outbox_pending_id" in indexes  # walked oldest pending first
    assert "ix_outbox_pending_recipient" in indexes  # the head of each queue: one probe


def test_the_next_due_query_reads_the_due_index(
    sync_engine: Engine, shops: dict[str, ProvisionedShop]
) -> None:
    _fill(sync_engine, shops["grocery"].id)
    nodes = _plan(sync_engine, dispatcher_sql.NEXT_DUE.text, {})
    _assert_no_full_walk(nodes)
    indexes = {node.get("Index Name") for node in nodes}
    assert "ix_outbox_pending_due" in indexes
    assert "ix_outbox_pending_recipient" in indexes


def _queue(engine: Engine, tenant_id: int, rows: list[tuple[str, str]]) -> list[int]:
    """Rows (recipient, due in) queued in this order; their ids."""
    ids = []
    with engine.begin() as conn:
        for recipient, due_in in rows:
            ids.append(
                conn.execute(
                    text(
                        "INSERT INTO central.outbox (tenant_id, kind, recipient, payload, due_at) "
                        "VALUES (:t, 'message', :r, '{}'::jsonb, now() + CAST(:d AS interval)) "
                        "RETURNING id"
                    ),
                    {"t": tenant_id, "r": recipient, "d": due_in},
                ).scalar_one()
            )
    return ids


async def test_the_claim_takes_the_due_head_of_each_queue_only(
    sync_engine: Engine, shops: dict[str, ProvisionedShop], async_engine: AsyncEngine
) -> None:
    tid = shops["grocery"].id
    ana1, ana2, beto1, beto2, caro1 = _queue(
        sync_engine,
        tid,
        [("ana", "0 s"), ("ana", "0 s"), ("beto", "1 hour"), ("beto", "0 s"), ("caro", "0 s")],
    )
    async with async_engine.begin() as conn:
        claimed = (
            await conn.execute(dispatcher_sql.CLAIM, {"limit": 32, "lease": 60.0, "full": []})
        ).all()
    # Beto's second row is due but waits behind his first (in backoff); Ana's second
    # waits behind her first, now leased.
    assert sorted(row.id for row in claimed) == [ana1, caro1]
    async with async_engine.begin() as conn:
        again = (
            await conn.execute(dispatcher_sql.CLAIM, {"limit": 32, "lease": 60.0, "full": []})
        ).all()
    assert again == []
    with sync_engine.connect() as conn:
        untouched = conn.execute(
            text("SELECT id FROM central.outbox WHERE status = 'pending' AND due_at <= now()")
        ).scalars()
        assert sorted(untouched) == [ana2, beto2]  # due, and still waiting their turn
    assert beto1 < beto2


async def test_the_idle_loop_ignores_rows_stuck_behind_their_customers_first(
    sync_engine: Engine, shops: dict[str, ProvisionedShop], dispatcher: Dispatcher
) -> None:
    # Beto's first row retries in an hour; his second is "due" but may not go before it.
    _queue(sync_engine, shops["grocery"].id, [("beto", "1 hour"), ("beto", "-1 minute")])
    assert await dispatcher.dispatch_once() == 0
    # Before: the stuck row made this 0.05 s (a poll 20 times a second); now the idle wait.
    assert await dispatcher._seconds_until_due(5.0) == 5.0
    _queue(sync_engine, shops["grocery"].id, [("caro", "2 seconds")])
    assert 1.0 < await dispatcher._seconds_until_due(5.0) <= 2.0
