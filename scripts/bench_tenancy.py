"""Benchmark onboarding and migration (`make bench`).

Measures, on a durable PostgreSQL (DATABASE_URL, or a fresh embedded server in a
temporary folder with default fsync settings):
  1. provisioning one shop with the 26-product demo catalog, in process (median of N);
  2. `chatcentral tenant create` end to end as an operator runs it (process start included);
  3. `migrate` over M tenants left at the first tenant revision, then a no-op re-run.
Prints figures and the ratio to each goal; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatcentral.db.databases import recreate_database
from chatcentral.db.embedded import start_embedded
from chatcentral.db.engine import make_sync_engine
from chatcentral.db.migrations import upgrade_central
from chatcentral.resources import resource_dir
from chatcentral.tenancy.catalog import read_catalog
from chatcentral.tenancy.migrate import migrate_all
from chatcentral.tenancy.provisioning import TenantSpec, provision_tenant

PROVISION_GOAL_S = 1.0


def _spec(index: int, prefix: str) -> TenantSpec:
    return TenantSpec(
        slug=f"{prefix}{index:05d}",
        name=f"Tienda {index}",
        phone_number_id=f"{9_000_000_000 + index}",
        display_phone="+52 55 1234 5678",
        flow="grocery",
        admin_phones=["+52 55 8765 4321"],
        plan="premium",
    )


def bench_provision(url: str, runs: int) -> list[float]:
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        upgrade_central(conn)
    catalog = read_catalog(resource_dir("flows") / "catalogs" / "grocery.csv")
    times = []
    for index in range(runs):
        started = time.perf_counter()
        provision_tenant(engine, _spec(index, "prov"), catalog)
        times.append(time.perf_counter() - started)
    engine.dispose()
    return times


def bench_cli_create(url: str) -> float:
    catalog = resource_dir("flows") / "catalogs" / "grocery.csv"
    command = [
        sys.executable,
        "-m",
        "chatcentral.cli",
        "tenant",
        "create",
        "--slug",
        "cli-bench",
        "--name",
        "CLI bench",
        "--phone-number-id",
        "8000000001",
        "--display-phone",
        "+52 55 1234 5678",
        "--flow",
        "grocery",
        "--admin-phone",
        "+52 55 8765 4321",
        "--catalog",
        str(catalog),
    ]
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def bench_migrate(url: str, tenants: int, workers: int | None) -> tuple[float, float, float]:
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        upgrade_central(conn)
    started = time.perf_counter()
    for index in range(tenants):
        provision_tenant(engine, _spec(index, "mig"), revision="t0001")
    setup = time.perf_counter() - started
    engine.dispose()

    started = time.perf_counter()
    report = migrate_all(url, workers=workers)
    upgrade = time.perf_counter() - started
    if report.failed or len(report.upgraded) != tenants:
        raise SystemExit(f"migrate failed: {report.failed}")

    started = time.perf_counter()
    again = migrate_all(url, workers=workers)
    noop = time.perf_counter() - started
    if len(again.current) != tenants:
        raise SystemExit("second migrate did not find every tenant current")
    return setup, upgrade, noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provision-runs", type=int, default=20)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    data_dir: Path | None = None
    server = None
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        data_dir = Path(tempfile.mkdtemp(prefix="chatcentral-bench-"))
        server = start_embedded(data_dir, database="postgres")
        admin_url = server.admin_url()
    where = "DATABASE_URL" if server is None else "embedded PostgreSQL 18, fsync on"
    print(f"server: {where}; cores: {os.cpu_count()}")
    try:
        times = bench_provision(
            recreate_database(admin_url, "bench_provision"), args.provision_runs
        )
        median = statistics.median(times)
        p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"provision one tenant (26 products), in process, {len(times)} runs: "
            f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms"
            f" -> {PROVISION_GOAL_S / median:.1f}x under the {PROVISION_GOAL_S:.0f} s goal"
        )
        cli = bench_cli_create(recreate_database(admin_url, "bench_cli"))
        print(f"`chatcentral tenant create --catalog grocery.csv` end to end: {cli * 1000:.0f} ms")

        setup, upgrade, noop = bench_migrate(
            recreate_database(admin_url, "bench_migrate"), args.tenants, args.workers
        )
        print(
            f"migrate {args.tenants} tenants t0001 -> head: {upgrade:.1f} s "
            f"({upgrade / args.tenants * 1000:.1f} ms per tenant); "
            f"re-run with all current: {noop:.1f} s "
            f"(setup: {args.tenants} schemas provisioned in {setup:.1f} s)"
        )
    finally:
        if server is not None:
            server.stop()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
