"""Steps every drill ends with: waiting for the outbox to drain (or to stall), and turning
an audit into the checks that decide a drill's verdict."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.simulator.fake_cloud import FakeCloud
from drills.audit import Audit
from drills.bench import Row
from drills.customers import Customer, Shop
from drills.harness import AppProcess, Meta

# Give up on the outbox when due rows stay unsent this long (a dispatcher that died), or
# after this long in all.
STALL_S = 30.0
DRAIN_LIMIT_S = 180.0
# A reply's mark-read leaves once the reply is recorded, so it may still be out when the
# outbox is empty: the fake Cloud API must see no call for this long (at most SETTLE_LIMIT_S,
# the dispatcher's tries of a mark-read with their pauses) before its calls are counted.
QUIET_S = 1.0
SETTLE_LIMIT_S = 25.0


async def drain(
    engine: AsyncEngine, shops: list[Shop], fake: FakeCloud, row: Row | None = None
) -> bool:
    """Wait until no outbox row of these shops is pending and the mark-reads that follow
    the last replies are made; False when due rows stay unsent for STALL_S (nothing is
    sending them) or after DRAIN_LIMIT_S."""
    started = time.monotonic()
    drained = await _wait_drained(engine, shops)
    if drained:
        await _settle(fake)
    if row is not None:
        took = time.monotonic() - started
        if drained:
            row.notes.append(f"outbox drained {took:.0f} s after the last webhook")
        else:
            row.notes.append(f"outbox still not drained {took:.0f} s after the last webhook")
            row.notes.append(await _why_pending(engine, shops))
    return drained


async def _settle(fake: FakeCloud) -> None:
    started = time.monotonic()
    seen, since = len(fake.calls()), time.monotonic()
    while time.monotonic() - since < QUIET_S and time.monotonic() - started < SETTLE_LIMIT_S:
        await asyncio.sleep(0.1)
        if (now := len(fake.calls())) != seen:
            seen, since = now, time.monotonic()


async def _why_pending(engine: AsyncEngine, shops: list[Shop]) -> str:
    """What the stuck rows look like, and who might hold them, for the report."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT o.id, o.attempts, o.last_error, "
                    "round(EXTRACT(EPOCH FROM o.due_at - now())) AS due_in "
                    "FROM central.outbox o "
                    "WHERE o.tenant_id = ANY(:ids) AND o.status = 'pending' ORDER BY o.id"
                ),
                {"ids": [shop.id for shop in shops]},
            )
        ).all()
        locked = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM central.outbox WHERE tenant_id = ANY(:ids) "
                    "AND status = 'pending' AND id NOT IN (SELECT id FROM central.outbox "
                    "WHERE tenant_id = ANY(:ids) AND status = 'pending' "
                    "FOR UPDATE SKIP LOCKED)"
                ),
                {"ids": [shop.id for shop in shops]},
            )
        ).scalar_one()
        sessions = (
            await conn.execute(
                text(
                    "SELECT state, count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "GROUP BY state"
                )
            )
        ).all()
    head = ", ".join(
        f"#{r.id} attempts {r.attempts} due in {r.due_in} s ({r.last_error})" for r in rows[:3]
    )
    states = ", ".join(f"{n} {state}" for state, n in sessions)
    return (
        f"{len(rows)} pending ({locked} locked by another transaction): {head}; sessions: {states}"
    )


async def _wait_drained(engine: AsyncEngine, shops: list[Shop]) -> bool:
    # Overdue heads: the oldest pending row of a customer, due for a while and not sent.
    # Rows behind a head that is not due (backing off, or leased by a dispatcher that was
    # killed) are waiting their turn, not stuck.
    query = text(
        "SELECT count(*) FILTER (WHERE o.status = 'pending'), "
        "count(*) FILTER (WHERE o.status = 'pending' "
        "AND o.due_at < now() - interval '5 seconds' AND NOT EXISTS ("
        "SELECT 1 FROM central.outbox p WHERE p.status = 'pending' "
        "AND p.tenant_id = o.tenant_id AND p.recipient = o.recipient AND p.id < o.id)) "
        "FROM central.outbox o WHERE o.tenant_id = ANY(:ids)"
    )
    ids = [shop.id for shop in shops]
    started = time.monotonic()
    last, since = None, time.monotonic()
    while time.monotonic() - started < DRAIN_LIMIT_S:
        async with engine.connect() as conn:
            pending, overdue = (await conn.execute(query, {"ids": ids})).one()
        if pending == 0:
            return True
        if pending != last or not overdue:
            last, since = pending, time.monotonic()
        elif time.monotonic() - since > STALL_S:
            return False
        await asyncio.sleep(0.25)
    return False


async def http_status(app: AppProcess, path: str) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            return (await client.get(f"{app.base}{path}")).status_code
        except httpx.TransportError:
            return 0


def fine(status: int) -> bool:
    return status == 200 or 400 <= status < 500


def conversation_checks(
    row: Row,
    result: Audit,
    customers: list[Customer],
    meta: Meta,
    *,
    repeats_allowed: int = 0,
    mark_reads_lost_allowed: int = 0,
) -> None:
    """What every conversation drill promises, whatever its fault. A mark-read leaves after
    its reply is recorded: a kill in between loses it (grey ticks), never repeats the reply."""
    tally = meta.tally
    row.messages = result.messages
    row.duplicates = tally.posts - result.messages
    row.replies = (result.replies_expected, result.replies_sent)
    row.orders = (result.orders_expected, result.orders_created)
    row.status_503 = tally.statuses[503]
    row.other_5xx = tally.other_5xx
    row.repeats, row.repeats_allowed = result.repeats, repeats_allowed
    row.failures += result.problems
    row.expect(row.other_5xx == 0, f"{row.other_5xx} webhooks answered 5xx other than 503")
    refused = {code: n for code, n in tally.statuses.items() if 400 <= code < 500}
    row.expect(not refused, f"well-formed webhooks refused: {refused}")
    row.expect(
        result.stored == result.messages == result.inbound_rows,
        f"messages: {result.messages} acknowledged, {result.stored} of them stored, "
        f"{result.inbound_rows} inbound rows",
    )
    row.expect(result.stale == 0, f"{result.stale} messages recorded as stale")
    row.expect(result.unhandled == 0, f"{result.unhandled} messages stored as unhandled")
    row.expect(
        result.mark_reads_expected == result.messages,
        f"{result.mark_reads_expected} messages answered of {result.messages}",
    )
    row.expect(result.replies_expected > 0, "no reply was queued")
    row.expect(
        result.replies_sent == result.replies_expected,
        f"replies: {result.replies_sent} of {result.replies_expected} accepted",
    )
    lost = result.mark_reads_expected - result.mark_reads_sent
    row.expect(
        0 <= lost <= mark_reads_lost_allowed,
        f"mark-reads: {result.mark_reads_sent} of {result.mark_reads_expected} accepted "
        f"(at most {mark_reads_lost_allowed} may be lost)",
    )
    if lost:
        row.notes.append(f"mark-reads lost: {lost} (allowed: {mark_reads_lost_allowed})")
    row.expect(result.out_of_order == 0, f"{result.out_of_order} replies out of order")
    row.expect(
        result.repeats <= repeats_allowed,
        f"{result.repeats} Graph API calls accepted twice, at most {repeats_allowed} allowed",
    )
    row.expect(
        result.orders_created == result.orders_expected,
        f"orders: {result.orders_created} created for {result.orders_expected} confirmations",
    )
    row.expect(result.orders_expected > 0, "no customer confirmed an order")
    row.expect(result.pending == 0, f"{result.pending} outbox rows still pending")
    row.expect(result.failed == 0, f"{result.failed} outbox rows failed for good")
    row.expect(
        all(not c.error for c in customers), "some customers could not finish (listed above)"
    )


async def acknowledged_not_recorded(
    engine: AsyncEngine, shop: Shop, acknowledged: list[tuple[str, bytes]]
) -> list[tuple[str, str]]:
    """Fuzzed messages acknowledged with 200 that are neither a stored message nor in an
    unhandled update: acknowledged messages the shop will never see. (label, wamid) each."""
    wanted = {wamid: label for label, raw in acknowledged for wamid in _fuzz_wamids(raw)}
    async with engine.connect() as conn:
        stored = await conn.execute(
            text(f"SELECT wamid FROM {shop.schema}.messages WHERE wamid = ANY(:w)"),
            {"w": sorted(wanted)},
        )
        found = {wamid for (wamid,) in stored}
        unhandled = await conn.execute(text("SELECT payload::text FROM central.unhandled_updates"))
        kept = "\n".join(payload for (payload,) in unhandled)
    found |= set(re.findall(r"wamid\.FUZZ\.\d+(?!\d)", kept))
    return sorted((label, wamid) for wamid, label in wanted.items() if wamid not in found)


def _fuzz_wamids(raw: bytes) -> list[str]:
    """The ids of well-formed message items in a fuzzed body (those must be kept)."""
    try:
        body = json.loads(raw)
        return [
            item["id"]
            for entry in body["entry"]
            for change in entry["changes"]
            for item in change["value"]["messages"]
            if re.fullmatch(r"wamid\.FUZZ\.\d+", str(item["id"]))
        ]
    except (ValueError, RecursionError, TypeError, KeyError, AttributeError):
        return []
