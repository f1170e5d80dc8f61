"""The customers' load: signed inbound webhooks (a customer's messages one at a time, in
order), Meta's status webhooks for every reply the fake Cloud API accepted, the outbox
drain, and matching each inbound message to its reply."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict, deque

import psycopg
from load_webhooks import LOCAL_SECRET

from benchlib.httpclient import Connection
from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.simulator.webhooks import (
    contact,
    message,
    one_change,
    signed,
    status,
    text_content,
)

WORDS = ("hola", "catálogo", "menú", "estado", "menú", "ayuda")
STATES = ("sent", "delivered", "read")


def inbound_body(number: str, customer: str, seq: int, word: str) -> bytes:
    wamid = f"wamid.BENCH{seq:09d}x{os.getpid()}"
    item = message(customer, wamid, 1_760_000_000 + seq, text_content(word))
    sender = contact(customer, f"Cliente {customer[-4:]}")
    return json.dumps(one_change(number, contacts=[sender], messages=[item])).encode()


def plan(numbers: list[str], customers_per_shop: int, run: int) -> list[tuple[str, bytes]]:
    """Every customer's six messages, round robin: a customer's next message comes after
    every other customer's current one."""
    customers = [
        (number, f"5255{run}{shop:03d}{index:04d}")
        for index in range(customers_per_shop)
        for shop, number in enumerate(numbers)
    ]
    jobs = []
    seq = run * 1_000_000
    for word in WORDS:
        for number, customer in customers:
            seq += 1
            jobs.append((customer, inbound_body(number, customer, seq, word)))
    return jobs


def shop_numbers(jobs: list[tuple[str, bytes]]) -> dict[str, str]:
    """Each customer's shop number (phone_number_id), read back from its planned messages:
    `drive` sends the statuses of a customer's replies as that shop's webhooks."""
    return {
        customer: json.loads(raw)["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
        for customer, raw in jobs
    }


def pending_rows(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM central.outbox WHERE status = 'pending'")
    return int(row.fetchone()[0])  # type: ignore[index]


async def drive(
    base: str,
    jobs: list[tuple[str, bytes]],
    concurrency: int,
    fake: FakeCloud,
    numbers_of: dict[str, str],
    with_statuses: bool,
    db_url: str,
    drain_limit: float,
) -> tuple[float, float, list[tuple[str, float, float]], list[float], int, float | None, int]:
    """Send the inbound jobs (and statuses for each reply seen) at `concurrency`; return the
    time of the first send, of the last inbound ack, the inbound sends (customer, start,
    ack ms), the status acks, non-200s, the drain time and what was left pending."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    prepared = [(customer, *signed(raw, LOCAL_SECRET)) for customer, raw in jobs]
    inbound = deque(prepared)
    busy: set[str] = set()  # customers with a message in flight: each waits for its ack
    statuses: deque[bytes] = deque()
    sends: list[tuple[str, float, float]] = []
    status_ms: list[float] = []
    bad = 0
    seen = len(fake.calls())  # statuses only for the replies of these messages
    inbound_done = asyncio.Event()
    all_done = asyncio.Event()

    async def watch_replies() -> None:
        nonlocal seen
        while not all_done.is_set():
            calls = fake.calls()
            for call in calls[seen:]:
                if call.wamid and with_statuses:
                    to = str(call.body.get("to", "")).lstrip("+")
                    number = numbers_of.get(to)
                    for state in STATES if number else ():
                        item = status(call.wamid, state, 1_760_000_100, to)
                        raw = json.dumps(one_change(number, statuses=[item])).encode()
                        statuses.append(raw)
            seen = len(calls)
            await asyncio.sleep(0.05)

    async def worker() -> None:
        nonlocal bad
        conn = Connection(host, int(port))
        while True:
            if statuses:
                raw = statuses.popleft()
                body, headers = signed(raw, LOCAL_SECRET)
                started = time.monotonic()
                code = await conn.post("/webhook", body, headers)
                status_ms.append((time.monotonic() - started) * 1000)
            elif (job := next_inbound(inbound, busy)) is not None:
                customer, body, headers = job
                busy.add(customer)
                started = time.monotonic()
                code = await conn.post("/webhook", body, headers)
                sends.append((customer, started, (time.monotonic() - started) * 1000))
                busy.discard(customer)
                if not inbound and len(sends) == len(prepared):
                    inbound_done.set()
            elif all_done.is_set() and not inbound:
                break
            else:
                await asyncio.sleep(0.01)
                continue
            bad += code != 200
        conn.close()

    watcher = asyncio.create_task(watch_replies())
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    first = time.monotonic()
    await inbound_done.wait()
    last_ack = max(start + ms / 1000 for _, start, ms in sends)
    # Drain: the outbox empties (statuses keep coming for the replies still going out).
    drain: float | None = None
    deadline = last_ack + drain_limit
    left = 0
    # One connection for the polling: a new backend per poll would count as PostgreSQL CPU.
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            left = await asyncio.to_thread(pending_rows, conn)
            if left == 0:
                drain = max(0.0, time.monotonic() - last_ack)
                break
            await asyncio.sleep(0.05)
    # The last statuses for the last replies, then stop.
    await asyncio.sleep(0.2)
    for _ in range(600):
        if not statuses:
            break
        await asyncio.sleep(0.05)
    all_done.set()
    await asyncio.gather(*workers)
    await watcher
    return first, last_ack, sends, status_ms, bad, drain, left


def next_inbound(
    inbound: deque[tuple[str, bytes, dict[str, str]]], busy: set[str]
) -> tuple[str, bytes, dict[str, str]] | None:
    """The first queued message whose customer has nothing in flight and no earlier message
    queued: a customer's messages go one at a time, in order."""
    seen: set[str] = set()
    for index, job in enumerate(inbound):
        if index > 256:
            break
        if job[0] not in busy and job[0] not in seen:
            del inbound[index]
            return job
        seen.add(job[0])
    return None


def match_replies(
    sends: list[tuple[str, float, float]], fake: FakeCloud
) -> tuple[list[float], int]:
    """Inbound -> reply ms: the k-th reply call to a customer answers its k-th message."""
    replies: dict[str, list[float]] = defaultdict(list)
    for call in fake.calls():
        if call.wamid:
            replies[str(call.body.get("to", "")).lstrip("+")].append(call.received_at)
    by_customer: dict[str, list[float]] = defaultdict(list)
    for customer, started, _ in sorted(sends, key=lambda s: s[1]):
        by_customer[customer].append(started)
    out, unmatched = [], 0
    for customer, starts in by_customer.items():
        got = sorted(replies.get(customer, []))
        for index, started in enumerate(starts):
            if index < len(got):
                out.append((got[index] - started) * 1000)
            else:
                unmatched += 1
    return out, unmatched
