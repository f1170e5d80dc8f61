"""Exact counts at the end of a drill, from the database and from the fake Cloud API.

Replies are matched call by call: for each customer, the bodies the fake Cloud API
accepted must be the bodies of the outbox rows queued for them, in the same order; a
body accepted again is a repeat, one missing is a lost reply, one ahead of an earlier
reply is out of order. Mark-read calls are matched on the message they mark: each rides
on the last reply to that message (`outbox.mark_read_wamid`, no row of its own).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.simulator.fake_cloud import Call
from drills.customers import Customer, Shop

# Outbox kinds matched call by call: replies to customers and news for the shop's admins.
_REPLY_KINDS = ("message", "notification")


@dataclass
class Audit:
    messages: int = 0  # distinct messages the customers had acknowledged
    stored: int = 0  # of those, found in their shop's messages table
    inbound_rows: int = 0  # every inbound row of the drilled shops
    stale: int = 0
    unhandled: int = 0  # central.unhandled_updates rows for the drilled shops
    orders_expected: int = 0
    orders_created: int = 0
    replies_expected: int = 0  # outbox rows of kind 'message' or 'notification'
    replies_sent: int = 0  # accepted by the fake Cloud API, matched in order
    reply_repeats: int = 0
    out_of_order: int = 0
    mark_reads_expected: int = 0
    mark_reads_sent: int = 0
    mark_read_repeats: int = 0
    pending: int = 0  # outbox rows still pending
    failed: int = 0  # outbox rows failed for good
    problems: list[str] = field(default_factory=list)

    @property
    def repeats(self) -> int:
        """Graph API calls Meta accepted more than once (replies and mark-reads)."""
        return self.reply_repeats + self.mark_read_repeats


async def audit(
    engine: AsyncEngine,
    shops: list[Shop],
    customers: list[Customer],
    calls: list[Call],
    *,
    extra_wamids: Iterable[str] = (),
) -> Audit:
    result = Audit()
    expected_wamids = {wamid for c in customers for wamid in c.wamids} | set(extra_wamids)
    result.messages = len(expected_wamids)
    async with engine.connect() as conn:
        inbound: dict[str, str] = {}
        orders: list[tuple[str, str | None]] = []
        for shop in shops:
            rows = await conn.execute(
                text(f"SELECT wamid, status FROM {shop.schema}.messages WHERE direction = 'in'")
            )
            for wamid, status in rows:
                inbound[wamid] = status
            rows = await conn.execute(
                text(
                    f"SELECT c.wa_id, o.source_wamid FROM {shop.schema}.orders o "
                    f"JOIN {shop.schema}.customers c ON c.id = o.customer_id"
                )
            )
            orders += [(f"{shop.slug}/{wa_id}", source) for wa_id, source in rows]
        outbox = (
            await conn.execute(
                text(
                    "SELECT id, tenant_id, kind, recipient, payload, status, mark_read_wamid "
                    "FROM central.outbox "
                    "WHERE tenant_id = ANY(:ids) ORDER BY id"
                ),
                {"ids": [shop.id for shop in shops]},
            )
        ).all()
        result.unhandled = int(
            (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM central.unhandled_updates "
                        "WHERE phone_number_id = ANY(:numbers)"
                    ),
                    {"numbers": [shop.phone_number_id for shop in shops]},
                )
            ).scalar_one()
        )
    _check_inbound(result, expected_wamids, inbound)
    _check_orders(result, customers, orders)
    numbers = {shop.id: shop.phone_number_id for shop in shops}
    mine = [c for c in calls if c.phone_number_id in numbers.values() and c.delivered]
    _check_replies(result, numbers, outbox, [c for c in mine if not c.is_mark_read])
    _check_mark_reads(result, numbers, outbox, [c for c in mine if c.is_mark_read])
    statuses = Counter(row.status for row in outbox)
    result.pending, result.failed = statuses["pending"], statuses["failed"]
    for customer in customers:
        if customer.error:
            result.problems.append(f"customer {customer.wa_id}: {customer.error}")
    return result


def _check_inbound(result: Audit, expected: set[str], inbound: dict[str, str]) -> None:
    result.inbound_rows = len(inbound)
    result.stored = len(expected & inbound.keys())
    result.stale = sum(1 for wamid in expected if inbound.get(wamid) == "stale")
    missing = expected - inbound.keys()
    if missing:
        result.problems.append(f"{len(missing)} acknowledged messages not stored: {_some(missing)}")


def _check_orders(
    result: Audit, customers: list[Customer], orders: list[tuple[str, str | None]]
) -> None:
    result.orders_created = len(orders)
    per_customer = Counter(who for who, _ in orders)
    sources = {source for _, source in orders}
    for customer in customers:
        who = f"{customer.shop.slug}/{customer.recipient}"
        expected = 1 if customer.confirm_wamid else 0
        result.orders_expected += expected
        if per_customer[who] != expected:
            result.problems.append(f"{who}: {per_customer[who]} orders, expected {expected}")
        if customer.confirm_wamid and customer.confirm_wamid not in sources:
            result.problems.append(f"{who}: no order from {customer.confirm_wamid}")


def _check_replies(
    result: Audit, numbers: dict[int, str], outbox: Sequence[Any], calls: list[Call]
) -> None:
    queued: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in outbox:
        if row.kind in _REPLY_KINDS:
            queued[numbers[row.tenant_id], _addressee(row.payload)].append(_canonical(row.payload))
    result.replies_expected = sum(len(bodies) for bodies in queued.values())
    received: dict[tuple[str, str], list[str]] = defaultdict(list)
    for call in calls:
        received[call.phone_number_id, _addressee(call.body)].append(_canonical(call.body))
    for key in queued.keys() | received.keys():
        matched, repeats, disorder = _align(queued.get(key, []), received.get(key, []))
        result.replies_sent += matched
        result.reply_repeats += repeats
        result.out_of_order += disorder
        if disorder:
            result.problems.append(f"{key[0]}/{key[1]}: {disorder} replies out of order")
        if matched < len(queued.get(key, [])):
            lost = len(queued[key]) - matched
            result.problems.append(f"{key[0]}/{key[1]}: {lost} queued replies never accepted")


def _align(queued: list[str], received: list[str]) -> tuple[int, int, int]:
    """Walk the calls in the order they were accepted against the queue: (matched, repeats,
    out of order). A call equal to the next queued body advances; one equal to a body
    already matched is a repeat; anything else came too early or was never queued."""
    matched = repeats = disorder = 0
    done: set[str] = set()
    for body in received:
        if matched < len(queued) and body == queued[matched]:
            done.add(body)
            matched += 1
        elif body in done:
            repeats += 1
        else:
            disorder += 1
    return matched, repeats, disorder


def _check_mark_reads(
    result: Audit, numbers: dict[int, str], outbox: Sequence[Any], calls: list[Call]
) -> None:
    expected = {
        (numbers[row.tenant_id], str(row.mark_read_wamid))
        for row in outbox
        if row.mark_read_wamid is not None
    }
    result.mark_reads_expected = len(expected)
    seen = Counter((call.phone_number_id, str(call.body.get("message_id"))) for call in calls)
    result.mark_reads_sent = len(expected & seen.keys())
    result.mark_read_repeats = sum(n - 1 for n in seen.values())
    unexpected = seen.keys() - expected
    if unexpected:
        result.problems.append(f"{len(unexpected)} mark-reads never queued: {_some(unexpected)}")


def in_flight(
    calls: list[Call], numbers: Iterable[str], start: float, end: float, grace: float
) -> int:
    """Accepted calls whose answer the sender could not have recorded between `start` and
    `end` (monotonic): received by `end` and not answered before `start - grace`. `grace`
    is the time a sender needs between reading an answer and committing it."""
    wanted = set(numbers)
    return sum(
        1
        for call in calls
        if call.phone_number_id in wanted
        and call.delivered
        and call.received_at <= end
        and (call.answered_at is None or call.answered_at >= start - grace)
    )


def timed_out(calls: list[Call], numbers: Iterable[str]) -> tuple[int, int]:
    """(accepted, not accepted) calls whose client gave up waiting for the answer."""
    wanted = set(numbers)
    mine = [call for call in calls if call.phone_number_id in wanted and call.abandoned]
    accepted = sum(1 for call in mine if call.delivered)
    return accepted, len(mine) - accepted


def _addressee(body: dict[str, Any]) -> str:
    return str(body.get("to") or body.get("recipient") or "")


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def _some(items: Iterable[Any], count: int = 3) -> str:
    listed = sorted(map(str, items))
    more = f" and {len(listed) - count} more" if len(listed) > count else ""
    return ", ".join(listed[:count]) + more
