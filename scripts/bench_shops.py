"""1,000 shops (`make bench-shops`): onboarding, migration, the same load over 1 shop and
over all of them, and a whole-database dump. One printout, also written to
docs/BENCHMARKS.md.

On this machine it starts a durable embedded PostgreSQL (fsync on) and:

1. provisions N shops in process (`provision_tenant`, the grocery flow with its 26-product
   catalog, one transaction each as `chatcentral tenant create` does): total time and the
   time per tenant (p50/p99, first tenth against last tenth);
2. runs `chatcentral migrate` over all of them as a process (every tenant at head: the
   check an upgrade starts with);
3. runs the same load twice, each time against a fresh `chatcentral run` (one worker,
   dispatcher inside) and a fake Cloud API with Meta-like latency: the same customers
   typing "hola", "catálogo", "menú", "estado", "menú", "ayuda" with ~3 status webhooks per
   reply, the same total message count and concurrency, once all customers of one shop and
   once spread over the N shops. Measured: the ack's and inbound -> reply's p50/p99, the
   server's RSS and the memory of the PostgreSQL backends serving it (application_name
   'chatcentral'), before the load (after a warm-up on one shop) and after it, with the
   peak sampled every 0.5 s, and how many backends served it;
4. dumps the whole database with the pg_dump shipped next to the embedded postgres binary:
   success, size, time, and that every shop's schema is in it.

Every shop's throughput tier is set to Meta's highest (1,000 messages/s) so that pacing one
number does not slow the one-shop run: the comparison is about the number of schemas.

It exits 1 when a message got no reply, a webhook was not acknowledged 200, `migrate`
failed or the dump failed; it never judges timings (the machine may be shared: compare the
two runs' ratio, not the absolute figures).

    .venv/bin/python scripts/bench_shops.py            # 1,000 shops, a few minutes
    .venv/bin/python scripts/bench_shops.py --quick    # 50 shops, under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.load import WORDS, drive, inbound_body, match_replies, plan, shop_numbers
from benchlib.procfs import rss_kb, smaps_rollup
from benchlib.report import DOCS, ROOT, code_version, ms_cell, write_section
from load_webhooks import percentile, provision, start_server

from chatcentral.db.databases import recreate_database
from chatcentral.db.embedded import EmbeddedServer, start_embedded
from chatcentral.simulator.fake_cloud import FakeCloud

APP_NAME = "chatcentral"  # the application_name of the server's pool (db/engine.py)
META_LATENCY = (0.275, 0.02, 1.2)  # as `make bench`: 150-400 ms, 2 % over a second
# Settings given to the server on every side (--server-env NAME=VALUE); none by default:
# the defaults are what is measured.
SERVER_ENV: dict[str, str] = {}


# --- 1. Provisioning ------------------------------------------------------------------------


def provision_shops(db_url: str, shops: int) -> tuple[list[str], list[float]]:
    """Provision `shops` shops one after another; their numbers and seconds per shop."""
    times: list[float] = []
    numbers = provision(
        db_url,
        shops,
        prefix="78",
        slug="shop{:04d}",
        settings={"throughput_mps": 1000},
        seconds=times,
    )
    return numbers, times


# --- 2. migrate -----------------------------------------------------------------------------


def run_migrate(db_url: str) -> tuple[float, str]:
    """`chatcentral migrate` as an operator runs it; seconds and its last line."""
    env = {**os.environ, "DATABASE_URL": db_url, "CHATCENTRAL_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "chatcentral.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(f"chatcentral migrate failed (exit {done.returncode})")
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return elapsed, lines[-1] if lines else ""


# --- 3.0 What one schema costs a backend ----------------------------------------------------

# The message path's reads (scripts/bench_message.sql), with nothing to find: they make the
# backend open the shop's tables and indexes (relcache, catcache) and plan each statement.
PATH_READS = (
    "SELECT id, bsuid FROM {s}.customers WHERE wa_id = '0'",
    "SELECT id, state, context FROM {s}.customer_sessions WHERE customer_id = 0 FOR UPDATE",
    "SELECT name, jugs_held FROM {s}.customers WHERE id = 0",
    "SELECT id, address_text FROM {s}.customer_addresses WHERE customer_id = 0 "
    "ORDER BY last_used_at DESC LIMIT 5",
    "SELECT o.id, st.name, o.total FROM {s}.orders o JOIN {s}.order_status st "
    "ON st.id = o.status_id WHERE o.customer_id = 0 ORDER BY o.id DESC LIMIT 1",
    "SELECT id FROM {s}.messages WHERE wamid = 'x'",
    "SELECT id, name, price FROM {s}.products WHERE active ORDER BY id LIMIT 10",
)


@dataclass
class SchemaCost:
    schemas: int
    cold_ms: float  # the reads in a schema this backend never touched, per schema
    warm_ms: float  # the same reads again
    heap_kb: float  # the backend's private heap growth per schema touched


def schema_cost(db_url: str, schemas: list[str]) -> SchemaCost:
    """One fresh backend runs the message path's reads in every schema, then again: the
    time per schema cold and warm and its private heap (Anonymous) growth per schema."""
    with psycopg.connect(db_url, autocommit=True, prepare_threshold=None) as conn:
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        conn.execute("SELECT 1 FROM central.tenants LIMIT 1")
        heap0 = smaps_rollup(pid).get("Anonymous", 0)
        spent = []
        for _round in (1, 2):
            started = time.perf_counter()
            for schema in schemas:
                with conn.transaction(force_rollback=True):
                    for statement in PATH_READS:
                        conn.execute(statement.format(s=schema))  # type: ignore[arg-type]
            spent.append((time.perf_counter() - started) * 1000 / len(schemas))
        heap1 = smaps_rollup(pid).get("Anonymous", 0)
    return SchemaCost(len(schemas), spent[0], spent[1], (heap1 - heap0) / len(schemas))


# --- 3. The load over 1 shop and over N -----------------------------------------------------


@dataclass
class Memory:
    """One reading: the server's RSS and the app's PostgreSQL backends (kB)."""

    server_rss: int
    backends: int
    backend_rss: int
    backend_pss: int
    backend_anon: int
    pids: frozenset[int]


def read_memory(probe: psycopg.Connection, server_pid: int) -> Memory:
    rows = probe.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = "
        "current_database()",
        (APP_NAME,),
    ).fetchall()
    pids = frozenset(int(row[0]) for row in rows)
    rollups = [smaps_rollup(pid) for pid in pids]
    return Memory(
        server_rss=rss_kb(server_pid),
        backends=len(pids),
        backend_rss=sum(r.get("Rss", 0) for r in rollups),
        backend_pss=sum(r.get("Pss", 0) for r in rollups),
        backend_anon=sum(r.get("Anonymous", 0) for r in rollups),
        pids=pids,
    )


class Sampler:
    """Readings every `interval` seconds in a thread: the peaks, and every backend seen
    (the peak's `pids`)."""

    def __init__(self, db_url: str, server_pid: int, interval: float = 0.5) -> None:
        self._url, self._pid, self._interval = db_url, server_pid, interval
        self._stop = threading.Event()
        self.peak = Memory(0, 0, 0, 0, 0, frozenset())
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True, application_name="bench-probe") as db:
            while not self._stop.is_set():
                m = read_memory(db, self._pid)
                p = self.peak
                self.peak = Memory(
                    max(p.server_rss, m.server_rss),
                    max(p.backends, m.backends),
                    max(p.backend_rss, m.backend_rss),
                    max(p.backend_pss, m.backend_pss),
                    max(p.backend_anon, m.backend_anon),
                    p.pids | m.pids,
                )
                self._stop.wait(self._interval)


@dataclass
class LoadResult:
    name: str
    shops: int
    messages: int
    statuses: int
    rate: float
    ack_ms: list[float]
    reply_ms: list[float]
    unmatched: int
    non_200: int
    drain_s: float | None
    before: Memory
    after: Memory
    peak: Memory
    backends_seen: int
    extra: dict[str, str] = field(default_factory=dict)


def one_load(
    name: str,
    run: int,
    db_url: str,
    numbers: list[str],
    customers: int,
    args: argparse.Namespace,
    env: dict[str, str],
) -> LoadResult:
    """`customers` customers spread evenly over `numbers`, six messages each; `env` on
    top of this process's environment for the server."""
    per_shop = customers // len(numbers)
    fake = FakeCloud(seed=run)
    fake_url = fake.start()
    fake.set_latency(META_LATENCY[0], slow_fraction=META_LATENCY[1], slow_seconds=META_LATENCY[2])
    proc, base = start_server(db_url, fake_url, 1, {**SERVER_ENV, **env})
    try:
        jobs = plan(numbers, per_shop, run)
        numbers_of = shop_numbers(jobs)
        # Warm-up on the first shop only, from customers outside the measurement: the pool
        # opens its connections, the code paths are loaded; one schema is touched.
        warm = [
            (
                f"5256{run}{i:07d}",
                inbound_body(numbers[0], f"5256{run}{i:07d}", run * 1_000_000 + 900_000 + i, w),
            )
            for i in range(args.concurrency)
            for w in ("hola", "menú")
        ]
        asyncio.run(drive(base, warm, args.concurrency, fake, {}, False, db_url, 30))
        with psycopg.connect(db_url, autocommit=True, application_name="bench-probe") as db:
            before = read_memory(db, proc.pid)
        with Sampler(db_url, proc.pid) as sampler:
            first, last_ack, sends, _status_ms, bad, drain, _left = asyncio.run(
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
        with psycopg.connect(db_url, autocommit=True, application_name="bench-probe") as db:
            after = read_memory(db, proc.pid)
        reply_ms, unmatched = match_replies(sends, fake)
        return LoadResult(
            name=name,
            shops=len(numbers),
            messages=len(sends),
            statuses=len(_status_ms),
            rate=len(sends) / max(last_ack - first, 1e-9),
            ack_ms=[ms for _, _, ms in sends],
            reply_ms=reply_ms,
            unmatched=unmatched,
            non_200=bad,
            drain_s=drain,
            before=before,
            after=after,
            peak=sampler.peak,
            backends_seen=len(sampler.peak.pids | before.pids | after.pids),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        fake.stop()


# --- 4. pg_dump -----------------------------------------------------------------------------


@dataclass
class Dump:
    ok: bool
    seconds: float
    size: int
    schemas: int
    error: str


def dump_database(server: EmbeddedServer, db_url: str, out: Path) -> Dump:
    """The whole database, plain SQL, with the server's own pg_dump; count the schemas."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(server.bin_dir / "pg_dump"), "--no-password", "-f", str(out), db_url],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        return Dump(False, elapsed, 0, 0, done.stderr.strip()[-500:])
    schemas = 0
    with out.open(encoding="utf-8") as dumped:
        for line in dumped:
            if line.startswith("CREATE SCHEMA "):
                schemas += 1
    return Dump(True, elapsed, out.stat().st_size, schemas, "")


def lock_slots(db_url: str) -> tuple[int, int]:
    """max_locks_per_transaction × (max_connections + max_prepared_transactions), and the
    relations pg_dump locks (tables, partitioned tables, views, sequences, ...)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        per, conns, prepared = (
            int(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in (
                "max_locks_per_transaction",
                "max_connections",
                "max_prepared_transactions",
            )
        )
        relations = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()[0]  # type: ignore[index]
    return per * (conns + prepared), int(relations)


# --- Report ---------------------------------------------------------------------------------


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def ratio(many: float, one: float) -> str:
    finite = all(math.isfinite(x) for x in (many, one))
    return f"{many / one:.2f}" if one and finite else "—"


def table(runs: list[LoadResult]) -> list[str]:
    """One column per run, each after the first followed by its ratio to the first."""
    base = runs[0]

    def replies(r: LoadResult) -> list[float]:
        # A reply that never came counts as later than any other.
        return r.reply_ms + [float("inf")] * r.unmatched

    def row(
        label: str, cell: Callable[[LoadResult], str], value: Callable[[LoadResult], float] | None
    ) -> str:
        cells = [cell(base)]
        for r in runs[1:]:
            cells += [cell(r), ratio(value(r), value(base)) if value else "—"]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        f"| {base.messages} messages each | {base.name} | "
        + " | ".join(f"{r.name} | ÷ {base.name}" for r in runs[1:])
        + " |",
        "|---" * (2 + 2 * (len(runs) - 1)) + "|",
    ]
    for p in (50, 99):
        lines.append(
            row(
                f"ack p{p} ms",
                lambda r, p=p: ms_cell(r.ack_ms, p),
                lambda r, p=p: percentile(r.ack_ms, p),
            )
        )
    for p in (50, 99):
        lines.append(
            row(
                f"inbound → reply p{p} ms",
                lambda r, p=p: ms_cell(replies(r), p),
                lambda r, p=p: percentile(replies(r), p),
            )
        )
    lines.append(row("acknowledged msg/s", lambda r: f"{r.rate:.0f}", lambda r: r.rate))
    lines.append(
        row(
            "outbox drain after the last ack, s",
            lambda r: f"{r.drain_s:.1f}" if r.drain_s is not None else "> limit",
            None,
        )
    )
    for label, key in (
        ("server RSS MB: before → after (peak)", "server_rss"),
        ("PostgreSQL backends' private heap (Anonymous) MB: before → after (peak)", "backend_anon"),
        ("PostgreSQL backends' Pss MB: before → after (peak)", "backend_pss"),
        ("PostgreSQL backends' RSS MB: before → after (peak)", "backend_rss"),
    ):
        lines.append(
            row(
                label,
                lambda r, k=key: (
                    f"{mb(getattr(r.before, k))} → {mb(getattr(r.after, k))} "
                    f"({mb(getattr(r.peak, k))})"
                ),
                lambda r, k=key: float(getattr(r.peak, k)),
            )
        )
    lines.append(
        row(
            "backends serving the app: after (peak), distinct ones during the load",
            lambda r: f"{r.after.backends} ({r.peak.backends}), {r.backends_seen}",
            None,
        )
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 shops, a smaller load")
    parser.add_argument("--shops", type=int, default=None, help="default 1000 (quick: 50)")
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="customers per run, spread over the shops (default: one per shop; at least 100 "
        "unless --quick)",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--drain-limit", type=float, default=60.0, help="seconds")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for `chatcentral run` (e.g. to compare pool settings)",
    )
    parser.add_argument(
        "--compare-max-schemas",
        action="append",
        type=int,
        default=[],
        metavar="N",
        help="one more run over all shops with CHATCENTRAL_DB_CONN_MAX_SCHEMAS=N (0: no "
        "recycling); repeatable",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="print only; leave docs/BENCHMARKS.md alone"
    )
    args = parser.parse_args()
    if args.shops is None:
        args.shops = 50 if args.quick else 1000
    if args.customers is None:
        args.customers = args.shops if args.quick else max(100, args.shops)
    args.customers -= args.customers % args.shops  # the same count on each side
    if args.customers < args.shops:
        raise SystemExit("--customers must be at least --shops")
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--server-env {item!r}: expected NAME=VALUE")
        SERVER_ENV[name] = value

    import chatcentral

    version = code_version()
    print(f"chatcentral from {Path(chatcentral.__file__).parent} at {version}", flush=True)
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="chatcentral-shops-"))
    server = start_embedded(data_dir, database="postgres")
    failures: list[str] = []
    try:
        db_url = recreate_database(server.admin_url(), "chatcentral_shops")
        print(f"1. provisioning {args.shops} shops in process …", flush=True)
        t0 = time.perf_counter()
        numbers, times = provision_shops(db_url, args.shops)
        provision_s = time.perf_counter() - t0
        tenth = max(1, len(times) // 10)
        first_ms = sum(times[:tenth]) / tenth * 1000
        last_ms = sum(times[-tenth:]) / tenth * 1000
        provision_line = (
            f"provisioned {args.shops} shops (grocery, 26 products each) in process in "
            f"{provision_s:.1f} s: per shop p50 {percentile(times, 50) * 1000:.0f} ms, "
            f"p99 {percentile(times, 99) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
            f"mean of the first tenth {first_ms:.0f} ms, of the last tenth {last_ms:.0f} ms "
            f"({last_ms / first_ms:.2f}×)"
        )
        print(provision_line, flush=True)

        print("2. chatcentral migrate …", flush=True)
        migrate_s, migrate_last = run_migrate(db_url)
        migrate_line = (
            f"`chatcentral migrate` over {args.shops} shops (all at head) in {migrate_s:.1f} s "
            f"({migrate_s / args.shops * 1000:.1f} ms per shop, process start included): "
            f"“{migrate_last}”"
        )
        print(migrate_line, flush=True)

        print("3.0 what one schema costs a backend …", flush=True)
        with psycopg.connect(db_url, autocommit=True) as conn:
            names = [
                str(row[0])
                for row in conn.execute("SELECT schema_name FROM central.tenants ORDER BY id")
            ]
        cost = schema_cost(db_url, names)
        cost_line = (
            f"one fresh backend running the message path's reads in each of the {cost.schemas} "
            f"shops' schemas: {cost.cold_ms:.1f} ms per schema the first time, "
            f"{cost.warm_ms:.1f} ms again; its private heap grows {cost.heap_kb:.0f} kB per "
            f"schema touched ({cost.heap_kb * cost.schemas / 1024:.0f} MB for all of them)"
        )
        print(cost_line, flush=True)

        sides = [("1 shop", numbers[:1], {}), (f"{args.shops} shops", numbers, {})]
        for limit in args.compare_max_schemas:
            env = {"CHATCENTRAL_DB_CONN_MAX_SCHEMAS": str(limit)}
            sides.append((f"{args.shops} shops, MAX_SCHEMAS={limit}", numbers, env))
        loads = []
        for run, (name, shops, env) in enumerate(sides, 1):
            print(f"3.{run} the load over {name} …", flush=True)
            result = one_load(name, run, db_url, shops, args.customers, args, env)
            loads.append(result)
            print(
                f"  {result.messages} msgs, {result.rate:.0f} msg/s, ack p99 "
                f"{percentile(result.ack_ms, 99):.0f} ms, unanswered {result.unmatched}, "
                f"backends' private heap after {mb(result.after.backend_anon)} MB",
                flush=True,
            )
            if result.unmatched:
                failures.append(f"{name}: {result.unmatched} messages never answered")
            if result.non_200:
                failures.append(f"{name}: {result.non_200} webhooks not acknowledged 200")

        print("4. pg_dump of the whole database …", flush=True)
        slots, relations = lock_slots(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            db_size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        dump = dump_database(server, db_url, data_dir / "dump.sql")
        if not dump.ok:
            failures.append(f"pg_dump failed: {dump.error}")
        elif dump.schemas < args.shops + 1:
            failures.append(f"pg_dump has {dump.schemas} schemas, expected {args.shops + 1}")
        dump_line = (
            (
                f"`pg_dump` of the whole database ({db_size / 1e6:.0f} MB on disk): succeeded in "
                f"{dump.seconds:.1f} s, {dump.size / 1e6:.0f} MB of SQL, {dump.schemas} schemas "
                f"(central and the shops'); it locks {relations} relations, the lock "
                f"table holds {slots} (max_locks_per_transaction × connections)"
            )
            if dump.ok
            else f"`pg_dump` FAILED after {dump.seconds:.1f} s: {dump.error}"
        )
        print(dump_line, flush=True)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    total = time.monotonic() - started
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["scripts/bench_shops.py", *sys.argv[1:]])
    if os.environ.get("PYTHONPATH"):
        command = f"PYTHONPATH={os.environ['PYTHONPATH']} {command}"
    heading = (
        f"Run {now} on {platform.machine()} with {os.cpu_count()} cores, code at {version}, "
        f"`{command}`, {total:.0f} s in all. Load: {args.customers} customers × {len(WORDS)} "
        f"messages, concurrency {args.concurrency}, ~3 status webhooks per reply, fake Cloud "
        "API with Meta-like latency; a fresh `chatcentral run` per side ("
        + (", ".join(f"{k}={v}" for k, v in SERVER_ENV.items()) or "default settings")
        + "), warmed up on one shop; every shop's tier 1,000 msg/s."
    )
    body = [
        f"- {provision_line}",
        f"- {migrate_line}",
        f"- {cost_line}",
        f"- {dump_line}",
        "",
        *table(loads),
    ]
    if failures:
        body += ["", *(f"- **FAILED**: {f}" for f in failures)]
    print()
    print(heading)
    print()
    print("\n".join(body))
    if not args.no_docs:
        write_section("shops bench", heading, body, "## 1,000 shops (`make bench-shops`)")
        print(f"\nwritten to {DOCS.relative_to(ROOT)}")
    if failures:
        raise SystemExit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
