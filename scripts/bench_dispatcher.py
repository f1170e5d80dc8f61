"""The dispatcher alone against Meta-like latency (`make bench`'s second table, also in
docs/BENCHMARKS.md): how many replies per second one `chatcentral worker` delivers to the
customers of one number (paced at its 80 messages/s tier) and across 20 numbers.

It fills the outbox of a durable embedded PostgreSQL (fsync on) with replies, each
numbered per customer, every second one carrying the mark-read of the message it answers
(as the conversation service queues them), starts the worker against the fake Cloud API
answering in 150-400 ms (2 % in 1.2 s), and reads from the fake's log of accepted calls:

- replies per second from the first call to the last, overall and per number;
- the most calls one number took in any one-second window (Meta's tier is per second),
  as the fake Cloud API saw them arrive: the dispatcher never starts more than the tier
  in a second (`Pacer.admit`), but the HTTP client's and the fake's own scheduling on a
  saturated machine can bunch arrivals a little;
- whether every customer received their replies in order, each once;
- the worker's CPU per reply (utime + stime from /proc, mark-reads included).

    .venv/bin/python scripts/bench_dispatcher.py           # ~1 minute
    .venv/bin/python scripts/bench_dispatcher.py --quick   # a smaller load
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_messages import start_profile, summarize_profile
from benchlib.procfs import TICK_MS, ticks
from benchlib.report import code_version, write_section
from load_webhooks import provision, server_env

from chatcentral.config import Settings
from chatcentral.db.databases import recreate_database
from chatcentral.db.embedded import start_embedded
from chatcentral.db.engine import plain_url
from chatcentral.simulator.fake_cloud import Call, FakeCloud

# The worker's own default (CHATCENTRAL_SEND_CONCURRENCY), unless --concurrency says otherwise.
SEND_CONCURRENCY: int = Settings.model_fields["chatcentral_send_concurrency"].default

LATENCY = (0.275, 0.02, 1.2)  # 150-400 ms, 2 % at 1.2 s: what bench_messages calls Meta-like
TIER = 80

# Replies for customer c of a shop, in order: their message row and outbox row in one go.
FILL = """
WITH replies AS (
    SELECT c, seq, format('%%s-%%s', c, seq) AS tag
    FROM generate_series(1, %(customers)s) AS c, generate_series(1, %(replies)s) AS seq
), customers AS (
    INSERT INTO {schema}.customers (wa_id)
    SELECT DISTINCT '5255' || lpad(c::text, 8, '0') FROM replies
    RETURNING id, wa_id
), messages AS (
    INSERT INTO {schema}.messages (customer_id, direction, type, body, status)
    SELECT cu.id, 'out', 'text', jsonb_build_object('tag', r.tag), 'queued'
    FROM replies r JOIN customers cu ON cu.wa_id = '5255' || lpad(r.c::text, 8, '0')
    ORDER BY r.seq, r.c
    RETURNING id, customer_id, body ->> 'tag' AS tag
)
INSERT INTO central.outbox (tenant_id, kind, recipient, payload, message_id, mark_read_wamid)
SELECT %(tenant)s, 'message', cu.wa_id,
       jsonb_build_object('messaging_product', 'whatsapp', 'to', '+' || cu.wa_id,
                          'type', 'text', 'text', jsonb_build_object('body', m.tag)),
       m.id,
       CASE WHEN split_part(m.tag, '-', 2)::int %% 2 = 0 THEN 'wamid.in.' || m.tag END
FROM messages m JOIN customers cu ON cu.id = m.customer_id
ORDER BY m.id
"""


@dataclass
class Run:
    name: str
    numbers: int
    replies: int
    seconds: float
    per_number: float
    worst_second: int
    in_order: bool
    cpu_ms: float
    mark_reads: int


def fill(db_url: str, numbers: list[str], customers: int, replies: int) -> int:
    with psycopg.connect(plain_url(db_url), autocommit=True) as conn:
        shops = conn.execute(
            "SELECT id, schema_name FROM central.tenants WHERE phone_number_id = ANY(%s)",
            (numbers,),
        ).fetchall()
        conn.execute("DELETE FROM central.outbox")
        for tenant, schema in shops:
            conn.execute(f"TRUNCATE {schema}.customers, {schema}.messages CASCADE")
            conn.execute(
                FILL.replace("{schema}", schema),
                {"customers": customers, "replies": replies, "tenant": tenant},
            )
    return len(shops) * customers * replies


def start_worker(db_url: str, fake: str, concurrency: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chatcentral.cli", "worker"],
        env=server_env(db_url, fake, {"CHATCENTRAL_SEND_CONCURRENCY": str(concurrency)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tempfile.gettempdir(),
    )


def worst_second(times: list[float]) -> int:
    """The most calls in any one-second window [t, t + 1) starting at a call."""
    times = sorted(times)
    return max((bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def in_order(replies: list[Call]) -> bool:
    """Every customer got 1, 2, ... once each, in that order."""
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for call in sorted(replies, key=lambda c: c.received_at):
        customer, seq = str(call.body["text"]["body"]).split("-")
        seen[call.phone_number_id, customer].append(int(seq))
    return all(seqs == list(range(1, len(seqs) + 1)) for seqs in seen.values())


def one_run(
    name: str,
    db_url: str,
    numbers: list[str],
    customers: int,
    replies: int,
    concurrency: int,
    profile: str | None = None,
) -> Run:
    total = fill(db_url, numbers, customers, replies)
    marks = total // 2
    fake = FakeCloud(seed=len(numbers))
    fake.set_latency(LATENCY[0], slow_fraction=LATENCY[1], slow_seconds=LATENCY[2])
    url = fake.start()
    worker = start_worker(db_url, url, concurrency)
    spy = start_profile(profile, worker.pid) if profile else None
    try:
        deadline = time.monotonic() + 30 + total / 40
        while len(fake.calls()) < total + marks and time.monotonic() < deadline:
            time.sleep(0.25)
        cpu = ticks(f"/proc/{worker.pid}/stat") * TICK_MS
        if spy is not None and profile is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            print(summarize_profile(profile), flush=True)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        fake.stop()
    calls = [c for c in fake.calls() if c.delivered]
    sent = [c for c in calls if not c.is_mark_read]
    if len(sent) != total:
        raise SystemExit(f"{name}: {len(sent)} of {total} replies delivered")
    start = min(c.received_at for c in sent)
    seconds = max(c.received_at for c in sent) - start
    by_number: dict[str, list[float]] = defaultdict(list)
    for call in sent:
        by_number[call.phone_number_id].append(call.received_at)
    rates = [len(t) / max(max(t) - min(t), 1e-9) for t in by_number.values()]
    return Run(
        name=name,
        numbers=len(numbers),
        replies=total,
        seconds=seconds,
        per_number=min(rates),
        worst_second=max(worst_second(t) for t in by_number.values()),
        in_order=in_order(sent),
        cpu_ms=cpu / total,
        mark_reads=len(calls) - len(sent),
    )


def table(runs: list[Run]) -> list[str]:
    lines = [
        "| run | replies (+ mark-reads) | replies/s overall | replies/s per number (lowest) "
        "| most in one second, one number (tier 80) | in order per customer, once each "
        "| worker CPU ms/reply |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.name} | {r.replies} (+{r.mark_reads}) | {r.replies / r.seconds:.0f} "
            f"| {r.per_number:.0f} | {r.worst_second} | {'yes' if r.in_order else '**no**'} "
            f"| {r.cpu_ms:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--concurrency", type=int, default=None, help="sends in flight")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="py-spy --gil on the worker (20 numbers)")
    args = parser.parse_args()
    scale = 4 if args.quick else 1
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="chatcentral-bench-dispatcher-"))
    server = start_embedded(data_dir, database="postgres")
    try:
        db_url = recreate_database(server.admin_url(), "chatcentral_bench")
        numbers = provision(db_url, 20)
        concurrency = args.concurrency or SEND_CONCURRENCY
        runs = [
            one_run(
                "one number",
                db_url,
                numbers[:1],
                200 // scale,
                10,
                concurrency,
            ),
            one_run("20 numbers", db_url, numbers, 100 // scale, 6, concurrency, args.profile),
        ]
    finally:
        server.stop()
    lines = table(runs)
    command = " ".join(["scripts/bench_dispatcher.py", *sys.argv[1:]])
    heading = (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} with "
        f"{os.cpu_count()} cores, code at {code_version()}, `{command}`, "
        f"{time.monotonic() - started:.0f} s in all: one `chatcentral worker` "
        f"(CHATCENTRAL_SEND_CONCURRENCY={concurrency}), fake Cloud API at 150-400 ms per call "
        "(2 % at 1.2 s), every second reply followed by its mark-read."
    )
    print("\n" + heading + "\n\n" + "\n".join(lines))
    if not args.no_docs:
        write_section("dispatcher bench", heading, lines, "## Dispatcher alone, Meta-like latency")
    if not all(r.in_order for r in runs):
        raise SystemExit("replies out of order")


if __name__ == "__main__":
    main()
