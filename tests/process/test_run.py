"""`chatcentral run` as `make run` starts it: serves health, provisions the demo shops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from chatcentral.models.central import Tenant
from tests.support.processes import interrupt, start_run


def test_run_serves_health_and_provisions_demo_shops(
    db_url: str, sync_engine: Engine, tmp_path: Path
) -> None:
    proc, base = start_run(db_url, tmp_path, "--demo")
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        with sync_engine.connect() as conn:
            slugs = conn.execute(select(Tenant.slug).order_by(Tenant.id)).scalars().all()
        assert slugs == ["demo", "demo-agua"]
    finally:
        interrupt(proc)

    # A second start finds the demo shops and provisions nothing twice.
    proc, base = start_run(db_url, tmp_path, "--demo")
    interrupt(proc)
    with sync_engine.connect() as conn:
        assert len(conn.execute(select(Tenant.id)).all()) == 2


def test_run_without_the_app_secret_stops_naming_the_variable(db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHATSAPP_")}
    done = subprocess.run(
        [sys.executable, "-m", "chatcentral.cli", "run", "--port", "0"],
        cwd=tmp_path,
        env={**env, "DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "chatcentral: error: WHATSAPP_APP_SECRET is not set (environment or .env)"
    )


def test_run_without_the_dispatcher_leaves_sending_to_the_worker(
    db_url: str, tmp_path: Path
) -> None:
    proc, base = start_run(db_url, tmp_path, "--no-dispatcher", "--workers", "2")
    try:
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["dispatcher"] == "off"
    finally:
        interrupt(proc)
