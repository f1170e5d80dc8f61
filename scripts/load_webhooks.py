"""Load test: signed webhooks from many customers of several shops against `chatcentral run`.

By default it builds everything it needs on this machine: a durable embedded PostgreSQL
(fsync on) in a temporary folder, K provisioned shops, the loopback fake Cloud API and a
`chatcentral run` process. It fires N inbound webhooks (plus S status webhooks per inbound,
as Meta sends about three) at concurrency C, and prints messages per second and
acknowledgement latency percentiles next to pgbench's TPC-B rate on the same server at the
same concurrency: durable commits are the ceiling of a path that commits per message.

    .venv/bin/python scripts/load_webhooks.py --messages 4000 --concurrency 32
    .venv/bin/python scripts/load_webhooks.py --url http://127.0.0.1:8000 \
        --phone-number-id 100000000000001
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chatcentral.db.databases import recreate_database
from chatcentral.db.embedded import start_embedded
from chatcentral.db.engine import make_sync_engine
from chatcentral.db.migrations import upgrade_central
from chatcentral.resources import resource_dir
from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.simulator.webhooks import (
    contact,
    message,
    one_change,
    signed,
    status,
    text_content,
)
from chatcentral.tenancy.catalog import read_catalog
from chatcentral.tenancy.provisioning import TenantSpec, provision_tenant

LOCAL_SECRET = "load-test-secret"  # noqa: S105 - only for the server this script starts


@dataclass
class Result:
    kind: str
    status: int
    seconds: float


def inbound(number: str, customer: str, seq: int) -> bytes:
    body = random.choice(["hola", "menú", "1", "catálogo"])
    item = message(customer, f"wamid.LOAD{seq:09d}", 1_760_000_000 + seq, text_content(body))
    sender = contact(customer, f"Cliente {customer[-4:]}")
    return json.dumps(one_change(number, contacts=[sender], messages=[item])).encode()


def status_update(number: str, customer: str, seq: int, state: str) -> bytes:
    item = status(f"wamid.SENT{seq:09d}", state, 1_760_000_000 + seq, customer)
    return json.dumps(one_change(number, statuses=[item])).encode()


async def fire(
    url: str,
    secret: str,
    numbers: list[str],
    customers: int,
    messages: int,
    statuses: int,
    concurrency: int,
) -> tuple[list[Result], float]:
    jobs: list[tuple[str, bytes]] = []
    for seq in range(messages):
        number = numbers[seq % len(numbers)]
        customer = f"5255{seq % customers:08d}"
        jobs.append(("inbound", inbound(number, customer, seq)))
        for state in ("sent", "delivered", "read")[:statuses]:
            jobs.append(("status", status_update(number, customer, seq, state)))
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    results: list[Result] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                kind, raw = queue.get_nowait()
                body, headers = signed(raw, secret)
                started = time.perf_counter()
                response = await client.post(f"{url}/webhook", content=body, headers=headers)
                results.append(Result(kind, response.status_code, time.perf_counter() - started))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return results, elapsed


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def report(results: list[Result], elapsed: float) -> float:
    bad = [r for r in results if r.status != 200]
    inbound_count = sum(1 for r in results if r.kind == "inbound")
    rate = inbound_count / elapsed
    print(
        f"webhooks: {len(results)} ({inbound_count} inbound messages, "
        f"{len(results) - inbound_count} status updates) in {elapsed:.1f} s; non-200: {len(bad)}"
    )
    print(f"  inbound messages/s: {rate:.0f}   all webhooks/s: {len(results) / elapsed:.0f}")
    for kind in ("inbound", "status"):
        times = [r.seconds * 1000 for r in results if r.kind == kind]
        if times:
            print(
                f"  {kind:8s} ack latency ms: p50 {percentile(times, 50):.1f}  "
                f"p95 {percentile(times, 95):.1f}  p99 {percentile(times, 99):.1f}  "
                f"max {max(times):.1f}  over 1 s: {sum(t > 1000 for t in times)}"
            )
    return rate


def pgbench_tps(
    admin_url: str, bin_dir: Path | None, concurrency: int, seconds: int
) -> float | None:
    executable = str(bin_dir / "pgbench") if bin_dir else shutil.which("pgbench")
    if not executable:
        print("pgbench not found: skipping the TPC-B comparison")
        return None
    url = recreate_database(admin_url, "pgbench_load")
    subprocess.run([executable, "-i", "-q", "-s", "10", url], check=True, capture_output=True)
    done = subprocess.run(
        [executable, "-c", str(concurrency), "-j", "2", "-T", str(seconds), "-M", "prepared", url],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    return float(match.group(1)) if match else None


def provision(
    url: str,
    shops: int,
    *,
    prefix: str = "77",
    slug: str = "load{}",
    settings: dict[str, Any] | None = None,
    seconds: list[float] | None = None,
) -> list[str]:
    """Provision `shops` grocery shops one after another (numbers `prefix` + index, slugs
    `slug` with the index); their numbers. Seconds per shop go to `seconds` when given."""
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        upgrade_central(conn)
    catalog = read_catalog(resource_dir("flows") / "catalogs" / "grocery.csv")
    numbers = []
    for index in range(shops):
        number = f"{prefix}{index:08d}"
        started = time.perf_counter()
        provision_tenant(
            engine,
            TenantSpec(
                slug=slug.format(index),
                name=f"Tienda {index}",
                phone_number_id=number,
                display_phone="+52 55 1234 5678",
                flow="grocery",
                admin_phones=["+52 55 8765 4321"],
                plan="premium",
                settings=settings or {},
            ),
            catalog,
        )
        if seconds is not None:
            seconds.append(time.perf_counter() - started)
        numbers.append(number)
        if (index + 1) % 100 == 0:
            print(f"  provisioned {index + 1}/{shops}", flush=True)
    engine.dispose()
    return numbers


def server_env(db_url: str, fake: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a `chatcentral` process started here: this process's, then
    `extra`, then the local database, this script's secret and the fake Cloud API (always
    these)."""
    return {
        **os.environ,
        **(extra or {}),
        "DATABASE_URL": db_url,
        "WHATSAPP_APP_SECRET": LOCAL_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "load",
        "WHATSAPP_ACCESS_TOKEN": "load",
        "WHATSAPP_API_BASE_URL": fake,
        "CHATCENTRAL_LOG_LEVEL": "WARNING",
    }


def start_server(
    db_url: str, fake: str, workers: int, extra: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatcentral.cli", "run", "--port", "0", "--workers", str(workers)],
        env=server_env(db_url, fake, extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            base = match.group(1)
            for _ in range(200):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    return proc, base
                except httpx.TransportError:
                    time.sleep(0.05)
    raise SystemExit("chatcentral run did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="target an already running server instead of starting one")
    parser.add_argument(
        "--phone-number-id",
        action="append",
        dest="numbers",
        help="with --url: the shops' numbers (repeat)",
    )
    parser.add_argument("--secret", default=None, help="with --url: WHATSAPP_APP_SECRET")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument(
        "--statuses",
        type=int,
        default=0,
        choices=[0, 1, 2, 3],
        help="status webhooks per inbound message (Meta sends up to 3)",
    )
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--shops", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    args = parser.parse_args()

    if args.url:
        if not args.numbers:
            raise SystemExit("--url needs at least one --phone-number-id")
        secret = args.secret or os.environ.get("WHATSAPP_APP_SECRET", "")
        results, elapsed = asyncio.run(
            fire(
                args.url,
                secret,
                args.numbers,
                args.customers,
                args.messages,
                args.statuses,
                args.concurrency,
            )
        )
        report(results, elapsed)
        return

    data_dir = Path(tempfile.mkdtemp(prefix="chatcentral-load-"))
    server = start_embedded(data_dir, database="postgres")
    fake = FakeCloud()
    proc = None
    try:
        db_url = recreate_database(server.admin_url(), "chatcentral_load")
        numbers = provision(db_url, args.shops)
        fake_url = fake.start()
        proc, base = start_server(db_url, fake_url, args.workers)
        print(
            f"server: chatcentral run --workers {args.workers}, embedded PostgreSQL 18 "
            f"(fsync on), {args.shops} shops, {args.customers} customers, "
            f"concurrency {args.concurrency}, {os.cpu_count()} cores"
        )
        # Warm up connections and caches before measuring.
        asyncio.run(fire(base, LOCAL_SECRET, numbers, args.customers, 50, 0, args.concurrency))
        results, elapsed = asyncio.run(
            fire(
                base,
                LOCAL_SECRET,
                numbers,
                args.customers + 1000,
                args.messages,
                args.statuses,
                args.concurrency,
            )
        )
        rate = report(results, elapsed)
        deadline = time.monotonic() + 60
        while len(fake.calls()) < args.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"  replies received by the fake Cloud API so far: {len(fake.calls())}")
        proc.terminate()
        proc.wait(timeout=30)
        proc = None
        tps = pgbench_tps(
            server.admin_url(), server.bin_dir, args.concurrency, args.pgbench_seconds
        )
        if tps:
            print(
                f"pgbench TPC-B, same server, {args.concurrency} clients: {tps:.0f} tps; "
                f"inbound messages/s ÷ TPC-B tps = {rate / tps:.2f}"
            )
    finally:
        if proc is not None:
            proc.kill()
        fake.stop()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
