"""Fault drills: `chatcentral run` under duplicate storms, Graph API faults, kill -9, a
PostgreSQL restart and fuzzed bodies, each ending in exact counts (see docs/BENCHMARKS.md).

Everything runs on this machine: a durable embedded PostgreSQL (fsync on) in a temporary
folder that the drills stop and start, shops provisioned for each drill, `chatcentral run`
as a subprocess and the loopback fake Cloud API. Exits 1 when any count is off.

    .venv/bin/python scripts/drill.py                 # all drills (make drill)
    .venv/bin/python scripts/drill.py --only kill-9   # one drill
    .venv/bin/python scripts/drill.py --quick         # a smaller load
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from drills.bench import FULL, QUICK, Bench, Row
from drills.customers import Shop
from drills.harness import Postgres
from drills.report import details, section, table, write
from drills.scenarios import DRILLS
from load_webhooks import provision
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from chatcentral.db.databases import recreate_database
from chatcentral.db.engine import async_url

ROOT = Path(__file__).resolve().parents[1]
SHOPS_PER_DRILL = 2


def shops_for(db_url: str, names: list[str]) -> dict[str, list[Shop]]:
    """Two fresh grocery shops per drill, so each drill's counts are its own."""
    numbers = provision(db_url, SHOPS_PER_DRILL * len(names))
    engine = create_engine(async_url(db_url))
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, slug, schema_name, phone_number_id FROM central.tenants "
                "WHERE phone_number_id = ANY(:n)"
            ),
            {"n": numbers},
        ).all()
    engine.dispose()
    by_number = {row.phone_number_id: Shop(*row) for row in rows}
    shops = [by_number[number] for number in numbers]
    return {
        name: shops[i * SHOPS_PER_DRILL : (i + 1) * SHOPS_PER_DRILL] for i, name in enumerate(names)
    }


async def run_drills(bench: Bench, names: list[str]) -> list[Row]:
    rows = []
    for name in names:
        print(f"drill {name} ...", flush=True)
        started = time.monotonic()
        try:
            row = await DRILLS[name](bench)
        except Exception as exc:  # noqa: BLE001 - a crashed drill is a failed drill, go on
            traceback.print_exc()
            row = Row(name, failures=[f"the drill itself crashed: {exc!r}"])
        row.seconds = time.monotonic() - started
        verdict = "PASS" if row.passed else "FAIL: " + "; ".join(row.failures[:3])
        print(f"drill {name}: {verdict} ({row.seconds:.0f} s)", flush=True)
        rows.append(row)
    await bench.engine.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(DRILLS), help="run this drill alone")
    parser.add_argument("--quick", action="store_true", help="a smaller load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--write",
        type=Path,
        default=ROOT / "docs" / "BENCHMARKS.md",
        help="where the results table goes (a full run only; default docs/BENCHMARKS.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    names = [args.only] if args.only else list(DRILLS)
    size = QUICK if args.quick else FULL

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="chatcentral-drill-"))
    postgres = Postgres(work / "data")
    try:
        db_url = recreate_database(postgres.admin_url, "chatcentral_drill")
        engine = create_async_engine(async_url(db_url), pool_size=5, pool_pre_ping=True)
        bench = Bench(postgres, db_url, engine, shops_for(db_url, names), work, size, args.seed)
        rows = asyncio.run(run_drills(bench, names))
    finally:
        postgres.close()
    seconds = time.monotonic() - started
    print()
    print(table(rows))
    print(details(rows))
    print(f"{len(rows)} drills in {seconds:.0f} s")
    failed = any(not row.passed for row in rows)
    if failed:
        logs = Path(tempfile.mkdtemp(prefix="chatcentral-drill-logs-"))
        for log in work.glob("*.log"):
            shutil.copy(log, logs)
        print(f"chatcentral run logs kept in {logs}")
    shutil.rmtree(work, ignore_errors=True)
    if not args.only and not args.no_write:
        command = " ".join([".venv/bin/python scripts/drill.py", *sys.argv[1:]])
        if command.endswith("drill.py"):
            command = f"make drill   # {command}"
        write(args.write, section(rows, command, seconds))
        print(f"results written to {args.write.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
