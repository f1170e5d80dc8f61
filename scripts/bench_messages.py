"""The message path end to end, in one run (`make bench`): one table, also written to
docs/BENCHMARKS.md.

On this machine it starts a durable embedded PostgreSQL (fsync on), provisions S shops and
runs `chatcentral run` (one process, dispatcher inside) twice: once against the loopback fake
Cloud API (about 1 ms per call) and once with Meta-like latency (150-400 ms per send, a few
over 1 s). A third run, with Meta-like latency, splits the work as docs/deploy.md does:
`chatcentral run --no-dispatcher` for the web and `chatcentral worker` for the sends, one
process each. Customers of every shop type "hola", "catálogo", "menú", "estado", "menú",
"ayuda" (signed webhooks, concurrency C), and Meta's ~3 status webhooks (sent, delivered,
read) follow each reply the fake Cloud API accepted, in the same mix. Measured per run:

- acknowledged inbound messages/s and the ack's p50/p95/p99;
- inbound -> reply received by the fake Cloud API, p50/p99 (the k-th reply to a customer
  answers the customer's k-th message: every one of these messages gets one reply, and
  replies keep each customer's order), and the outbox drain time after the last ack (until
  no row of central.outbox is pending) with, in brackets, when the last reply reached the
  fake Cloud API (the rest is the Graph API's answer time, and recording it);
- CPU ms per inbound message from /proc (utime + stime): the server process (and the
  worker, in the third run), PostgreSQL
  (the postmaster and all its children, exited ones included) and this load generator
  (the fake Cloud API's thread apart).

Then, in the same run, the ceilings at the same concurrency: pgbench running one steady-
state message's SQL (as captured with log_statement: touch the customer, record the
message, lock the session, three fact reads, the reply and its outbox row, the mark-read,
the session update) against a provisioned shop, and a bare Starlette endpoint under
uvicorn driven by the same load generator. The rate is given as a ratio of the lower one.

    .venv/bin/python scripts/bench_messages.py            # ~3-4 minutes
    .venv/bin/python scripts/bench_messages.py --quick    # a smaller load
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.httpclient import Connection
from benchlib.load import WORDS, drive, inbound_body, match_replies, plan, shop_numbers
from benchlib.procfs import TICK_MS, CpuProbe, fake_tid, postmaster_pid, ticks, wait_quiet
from benchlib.report import DOCS, ROOT, code_version, ms_cell, write_section
from load_webhooks import LOCAL_SECRET, provision, server_env, start_server

from chatcentral.db.databases import recreate_database
from chatcentral.db.embedded import start_embedded
from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.simulator.webhooks import signed

# --- The load -------------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    split: bool  # web and worker in two processes
    messages: int
    statuses: int
    elapsed: float  # first send to the last inbound ack
    rate: float
    ack_ms: list[float]
    status_ack_ms: list[float]
    reply_ms: list[float]
    unmatched: int
    drain_s: float | None  # None: still pending at the deadline
    pending_left: int
    # When the last reply reached the fake Cloud API, after the last ack: the rest of the
    # drain is the Graph API's own answer time (and recording the answer).
    last_reply_s: float | None = None
    cpu_ms: dict[str, float] = field(default_factory=dict)
    other_cores: float = 0.0  # CPU of every other process on the machine meanwhile, in cores
    non_200: int = 0


def one_run(
    name: str,
    run: int,
    server: object,
    db_url: str,
    numbers: list[str],
    args: argparse.Namespace,
    latency: tuple[float, float, float],
    split: bool = False,
) -> RunResult:
    fake = FakeCloud(seed=run)
    fake_url = fake.start()
    seconds, slow_fraction, slow_seconds = latency
    fake.set_latency(seconds, slow_fraction=slow_fraction, slow_seconds=slow_seconds)
    proc, base = start_server(
        db_url, fake_url, 1, {"CHATCENTRAL_DISPATCHER": "false"} if split else None
    )
    worker = start_worker(db_url, fake_url) if split else None
    try:
        jobs = plan(numbers, args.customers, run)
        numbers_of = shop_numbers(jobs)
        # Warm up: one message per shop from customers outside the measurement.
        warm = [
            (
                f"5256{run}{i:07d}",
                inbound_body(n, f"5256{run}{i:07d}", run * 1_000_000 + 900_000 + i, "hola"),
            )
            for i, n in enumerate(numbers)
        ]
        asyncio.run(
            drive(base, warm, min(len(warm), args.concurrency), fake, {}, False, db_url, 30)
        )
        probe = CpuProbe(
            proc.pid,
            postmaster_pid(server.pgdata),  # type: ignore[attr-defined]
            fake_tid(),
            worker.pid if worker else None,
        )
        spy = start_profile(args.profile, proc.pid) if args.profile else None
        before = probe.sample()
        window_started = time.monotonic()
        first, last_ack, sends, status_ms, bad, drain, left = asyncio.run(
            drive(
                base,
                jobs,
                args.concurrency,
                fake,
                numbers_of,
                True,
                db_url,
                args.drain_limit,
            )
        )
        after = probe.sample()
        window = time.monotonic() - window_started
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            print(summarize_profile(args.profile), flush=True)
        ours = sum(
            after[k] - before[k] for k in ("server", "worker", "postgres", "loadgen", "fake")
        )
        other = max(0.0, (after["machine"] - before["machine"] - ours) * TICK_MS / 1000 / window)
        reply_ms, unmatched = match_replies(sends, fake)
        count = len(sends)
        last_out = max(
            (c.received_at for c in fake.calls() if c.wamid and c.received_at >= first),
            default=None,
        )
        return RunResult(
            name=name,
            split=split,
            messages=count,
            statuses=len(status_ms),
            elapsed=last_ack - first,
            rate=count / (last_ack - first),
            ack_ms=[ms for _, _, ms in sends],
            status_ack_ms=status_ms,
            reply_ms=reply_ms,
            unmatched=unmatched,
            drain_s=drain,
            pending_left=left,
            last_reply_s=None if last_out is None else last_out - last_ack,
            cpu_ms={k: (after[k] - before[k]) * TICK_MS / count for k in after},
            non_200=bad,
            other_cores=other,
        )
    finally:
        for process in (proc, worker):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        fake.stop()


def start_worker(db_url: str, fake_url: str) -> subprocess.Popen[bytes]:
    """`chatcentral worker` against the same database and fake Cloud API (the warm-up's
    replies wait for it to start sending)."""
    return subprocess.Popen(
        [sys.executable, "-m", "chatcentral.cli", "worker"],
        env=server_env(db_url, fake_url),
        stdout=subprocess.DEVNULL,
        cwd=tempfile.gettempdir(),
    )


# --- Profile (--profile: py-spy on the server, GIL holders only) -------------------------

PROFILE_BUCKETS = (  # the first match from the leaf up names a sample's bucket
    ("HTTP client (httpx/httpcore/h11/anyio)", ("httpx/", "httpcore/", "h11/", "anyio/")),
    ("psycopg", ("psycopg/", "psycopg_pool/")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("web (uvicorn/starlette/httptools)", ("uvicorn/", "starlette/", "httptools/")),
    ("JSON", ("json/", "orjson")),
    ("conversation engine", ("chatcentral/conversation/",)),
    ("transitions", ("transitions/",)),
    ("phonenumbers", ("phonenumbers/",)),
    ("logging/metrics", ("logging/", "prometheus_client/", "structlog/")),
    ("chatcentral (other)", ("chatcentral/",)),
    ("asyncio/uvloop", ("asyncio/", "uvloop/")),
)


def start_profile(path: str, pid: int) -> subprocess.Popen[bytes]:
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--gil", "-r", "200", "-f", "raw", "-o", path, "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarize_profile(path: str) -> str:
    """GIL-holding samples by bucket (leaf frame's package) and by side (a stack through the
    dispatcher or the webhook)."""
    buckets: dict[str, int] = defaultdict(int)
    sides: dict[str, int] = defaultdict(int)
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        name = "other"
        for frame in reversed(frames):
            where = frame.rpartition(" (")[2]  # the frame's file, e.g. "httpx/_client.py:1"
            found = next(
                (
                    b
                    for b, keys in PROFILE_BUCKETS
                    if any(f"/{where}".find(f"/{k}") == 0 or f"/{k}" in f"/{where}" for k in keys)
                ),
                None,
            )
            if found:
                name = found
                break
        buckets[name] += n
        # The webhook first: status webhooks run outbox/statuses.py inside it.
        if any("(chatcentral/webhook/" in f or "(chatcentral/inbound/" in f for f in frames):
            sides["webhook (webhook/, inbound/; status webhooks included)"] += n
        elif any("(chatcentral/outbox/" in f or "(chatcentral/whatsapp/graph" in f for f in frames):
            sides["dispatcher (outbox/, whatsapp/graph)"] += n
        else:
            sides["unattributed (greenlet-run SQLAlchemy of either side, event loop)"] += n
    lines = [f"profile of the server, {total} GIL-holding samples ({path}):"]
    for title, table_ in (("by side", sides), ("by package (leaf)", buckets)):
        lines.append(f"  {title}:")
        for name, n in sorted(table_.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {100 * n / max(total, 1):5.1f} %  {name}")
    return "\n".join(lines)


# --- Ceilings -------------------------------------------------------------------------------

PGBENCH_SCRIPT = Path(__file__).with_name("bench_message.sql")

REPLY = json.dumps(
    {
        "to": "+525500000000",
        "type": "interactive",
        "interactive": {
            "body": {"text": "¿Qué te gustaría hacer? Elige una opción o escribe su número."},
            "type": "list",
            "action": {
                "button": "Ver opciones",
                "sections": [
                    {
                        "title": "Menú principal",
                        "rows": [
                            {"id": "menu-catalog", "title": "Ver catálogo"},
                            {"id": "menu-order", "title": "Hacer un pedido"},
                            {"id": "menu-status", "title": "Estado de pedido"},
                            {"id": "menu-agent", "title": "Hablar con un asesor"},
                        ],
                    }
                ],
            },
        },
    },
    ensure_ascii=False,
)


def pgbench_ceiling(
    server: object, db_url: str, number: str, concurrency: int, seconds: int, customers: int
) -> tuple[float, str]:
    """One steady-state message's SQL under pgbench against the shop with `number`: the
    customers the load created there, `-M prepared`."""
    bin_dir = server.bin_dir  # type: ignore[attr-defined]
    with psycopg.connect(db_url, autocommit=True) as conn:
        tenant, schema = conn.execute(
            "SELECT id, schema_name FROM central.tenants WHERE phone_number_id = %s", (number,)
        ).fetchone()  # type: ignore[misc]
        # Enough customers that 32 clients rarely wait on one another's locks, as in the load.
        conn.execute(
            f"INSERT INTO {schema}.customers (wa_id, name, last_inbound_at) "
            "SELECT '5257' || lpad(n::text, 8, '0'), 'Cliente', now() "
            "FROM generate_series(1, %s) n ON CONFLICT DO NOTHING",
            (customers,),
        )
        conn.execute(
            f"INSERT INTO {schema}.customer_sessions (customer_id, state, context, "
            "last_message_at, expires_at) SELECT c.id, 'main_menu', '{}'::jsonb, now(), "
            f"now() + interval '30 minutes' FROM {schema}.customers c WHERE NOT EXISTS "
            f"(SELECT 1 FROM {schema}.customer_sessions s WHERE s.customer_id = c.id)"
        )
        rows = conn.execute(
            f"SELECT wa_id FROM {schema}.customers c JOIN {schema}.customer_sessions s "
            "ON s.customer_id = c.id WHERE wa_id IS NOT NULL ORDER BY c.id"
        ).fetchall()
    wa_ids = [r[0] for r in rows]
    script = string.Template(PGBENCH_SCRIPT.read_text()).substitute(
        s=schema, tenant=tenant, customers=len(wa_ids), reply=REPLY.replace("'", "''")
    )
    # The customer's wa_id by index: a lookup table pgbench can pick from.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.pgbench_customers")
        conn.execute("CREATE TABLE public.pgbench_customers (n int PRIMARY KEY, wa_id text)")
        with conn.cursor().copy("COPY public.pgbench_customers FROM STDIN") as copy:
            for index, wa_id in enumerate(wa_ids, 1):
                copy.write_row((index, wa_id))
    script = script.replace(
        "BEGIN;\n",
        "SELECT wa_id AS w FROM public.pgbench_customers WHERE n = :c \\gset\nBEGIN;\n",
        1,
    )
    handle, name = tempfile.mkstemp(prefix="message-", suffix=".sql")
    os.close(handle)
    path = Path(name)
    path.write_text(script)
    try:
        done = subprocess.run(
            [
                str(bin_dir / "pgbench"),
                "-n",
                "-f",
                str(path),
                "-c",
                str(concurrency),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-M",
                "prepared",
                db_url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.unlink()
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    if done.returncode != 0 or not match:
        print(done.stdout[-2000:], done.stderr[-2000:])
        raise SystemExit("pgbench failed")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM central.outbox WHERE recipient = '525500000000'")
    return float(match.group(1)), script


STARLETTE_APP = textwrap.dedent(
    """
    import socket, sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def webhook(request):
        await request.body()
        return PlainTextResponse("ok")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    """
)


def starlette_ceiling(
    jobs: list[tuple[str, bytes]], concurrency: int, count: int
) -> tuple[float, float]:
    """Requests/s of a bare Starlette endpoint under uvicorn (the same webhook bodies, the
    same load generator); and the load generator's CPU ms per request."""
    proc = subprocess.Popen(
        [sys.executable, "-c", STARLETTE_APP], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        host = "127.0.0.1"

        async def go() -> float:
            prepared = [signed(raw, LOCAL_SECRET) for _, raw in jobs]
            queue = [prepared[i % len(prepared)] for i in range(count)]

            async def worker() -> None:
                conn = Connection(host, port)
                while queue:
                    body, headers = queue.pop()
                    await conn.post("/webhook", body, headers)
                conn.close()

            warm = Connection(host, port)
            for _ in range(50):
                for _attempt in range(100):
                    try:
                        await warm.post("/webhook", b"{}", {})
                        break
                    except OSError:
                        await asyncio.sleep(0.05)
            warm.close()
            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.monotonic() - started

        cpu0 = ticks("/proc/self/stat")
        elapsed = asyncio.run(go())
        cpu = (ticks("/proc/self/stat") - cpu0) * TICK_MS / count
        return count / elapsed, cpu
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- Report ---------------------------------------------------------------------------------


def table(
    runs: list[RunResult],
    pg_tps: float,
    web_rps: float,
    web_cpu: float,
) -> list[str]:
    ceiling = min(pg_tps, web_rps)
    lines = [
        "| run | ack msg/s | ack p50 / p95 / p99 ms | inbound → reply p50 / p99 ms "
        "| outbox drain after last ack (last reply out) "
        "| CPU ms/msg: server (+ worker) / PostgreSQL / load gen "
        "| ratio to the lower ceiling |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        drain = f"{r.drain_s:.1f} s" if r.drain_s is not None else f"> limit, {r.pending_left} left"
        if r.last_reply_s is not None:
            drain += f" ({max(0.0, r.last_reply_s):.2f} s)"
        # A reply that never came (within the drain limit) counts as later than any other.
        replies = r.reply_ms + [float("inf")] * r.unmatched
        unmatched = f" ({r.unmatched} never answered)" if r.unmatched else ""
        server_cpu = f"{r.cpu_ms['server']:.1f}"
        if r.split:
            server_cpu += f" + {r.cpu_ms['worker']:.1f}"
        lines.append(
            f"| {r.name}: {r.messages} msgs + {r.statuses} statuses"
            f"{f' (other processes: {r.other_cores:.2f} cores)' if r.other_cores >= 0.05 else ''}"
            f"{f', {r.non_200} non-200' if r.non_200 else ''} "
            f"| {r.rate:.0f} | {ms_cell(r.ack_ms, 50)} / {ms_cell(r.ack_ms, 95)} / "
            f"{ms_cell(r.ack_ms, 99)} "
            f"| {ms_cell(replies, 50)} / {ms_cell(replies, 99)}{unmatched} | {drain} "
            f"| {server_cpu} / {r.cpu_ms['postgres']:.1f} / "
            f"{r.cpu_ms['loadgen']:.1f} (fake API {r.cpu_ms['fake']:.1f}) "
            f"| {r.rate / ceiling:.2f} |"
        )
    lines.append(
        f"| ceiling: one message's SQL, pgbench -M prepared | {pg_tps:.0f} tps | — | — | — | — "
        f"| {'**lower**' if pg_tps <= web_rps else '—'} |"
    )
    lines.append(
        f"| ceiling: bare Starlette POST under uvicorn, same load gen | {web_rps:.0f} req/s "
        f"| — | — | — | load gen {web_cpu:.2f} | {'**lower**' if web_rps < pg_tps else '—'} |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller load (~1 minute)")
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--customers", type=int, default=None, help="per shop (default 20)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--drain-limit", type=float, default=45.0, help="seconds")
    parser.add_argument(
        "--only", choices=["loopback", "meta", "split"], help="one of the three runs"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each run wait up to S seconds for the rest of the machine to go idle",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="py-spy --gil on the server during the loads (slows it: not for the table)",
    )
    parser.add_argument(
        "--docs-slot",
        default="current",
        help="which table of docs/BENCHMARKS.md to (re)write ('-' for none)",
    )
    args = parser.parse_args()
    if args.customers is None:
        args.customers = 6 if args.quick else 20
    if args.quick:
        args.pgbench_seconds = min(args.pgbench_seconds, 5)
        args.drain_limit = min(args.drain_limit, 30)

    import chatcentral

    version = code_version()
    print(f"chatcentral from {Path(chatcentral.__file__).parent} at {version}")
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="chatcentral-bench-"))
    server = start_embedded(data_dir, database="postgres")
    runs: list[RunResult] = []
    try:
        db_url = recreate_database(server.admin_url(), "chatcentral_bench")
        numbers = provision(db_url, args.shops)
        meta_like = (0.275, 0.02, 1.2)
        settings = [
            ("loopback", "loopback", (0.0, 0.0, 0.0), False),
            ("meta", "Meta-like latency", meta_like, False),
            ("split", "Meta-like, web + worker processes", meta_like, True),
        ]
        for run, (key, name, latency, split) in enumerate(settings, 1):
            if args.only and args.only != key:
                continue
            print(f"run {run}: {name} …", flush=True)
            if args.wait_quiet:
                wait_quiet(args.wait_quiet)
            result = one_run(name, run, server, db_url, numbers, args, latency, split)
            runs.append(result)
            print("\n".join(table([result], 1e9, 1e9, 0)[2:3]), flush=True)
        if args.wait_quiet:
            wait_quiet(args.wait_quiet)
        pg_tps, _ = pgbench_ceiling(
            server,
            db_url,
            numbers[0],
            args.concurrency,
            args.pgbench_seconds,
            10_000,
        )
        print(f"pgbench, one message's SQL: {pg_tps:.0f} tps", flush=True)
        web_jobs = plan(numbers, args.customers, 9)
        web_rps, web_cpu = starlette_ceiling(
            web_jobs, args.concurrency, 5000 if args.quick else 20000
        )
        print(f"bare Starlette: {web_rps:.0f} req/s", flush=True)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    total = time.monotonic() - started
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["scripts/bench_messages.py", *sys.argv[1:]])
    if os.environ.get("PYTHONPATH"):
        command = f"PYTHONPATH={os.environ['PYTHONPATH']} {command}"
    lines = table(runs, pg_tps, web_rps, web_cpu)
    heading = (
        ("" if args.docs_slot in ("current", "-") else f"**{args.docs_slot}** — ")
        + f"Run {now} on {platform.machine()} with {os.cpu_count()} cores, code at {version}, "
        f"`{command}`, "
        f"{total:.0f} s in all: {args.shops} shops × {args.customers} customers × "
        f"{len(WORDS)} messages per run, concurrency {args.concurrency}, 3 status webhooks "
        "per reply."
    )
    print()
    print(heading)
    print()
    print("\n".join(lines))
    if args.docs_slot != "-":
        write_section(
            f"message bench {args.docs_slot}",
            heading,
            [*lines, ""],
            "## Message path (`make bench`)",
        )
        print(f"\nwritten to {DOCS.relative_to(ROOT)} ({args.docs_slot})")


if __name__ == "__main__":
    main()
