"""`chatcentral run` as `make run` starts it: serves health, provisions the demo shops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from chatcentral.models.central import Tenant


def _start(db_url: str, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CHATCENTRAL_LOG_LEVEL": "WARNING",
        "WHATSAPP_APP_SECRET": "run-secret",
        "WHATSAPP_VERIFY_TOKEN": "run-verify",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatcentral.cli", "run", "--port", "0", *args],
        cwd=tmp_path,  # no developer .env is picked up
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"run exited with {proc.returncode}")
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError("run did not announce its address")


def _wait_healthy(base: str) -> httpx.Response:
    for _ in range(100):
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("never answered /healthz")


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C: uvicorn drains, the process exits 130 (interrupted) without a traceback."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert proc.stdout is not None
    assert "Traceback" not in proc.stdout.read()


def test_run_serves_health_and_provisions_demo_shops(
    db_url: str, sync_engine: Engine, tmp_path: Path
) -> None:
    proc, base = _start(db_url, tmp_path, "--demo")
    try:
        assert _wait_healthy(base).json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200
        with sync_engine.connect() as conn:
            slugs = conn.execute(select(Tenant.slug).order_by(Tenant.id)).scalars().all()
        assert slugs == ["demo", "demo-agua"]
    finally:
        _stop(proc)

    # A second start finds the demo shops and provisions nothing twice.
    proc, base = _start(db_url, tmp_path, "--demo")
    try:
        assert _wait_healthy(base).status_code == 200
    finally:
        _stop(proc)
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
