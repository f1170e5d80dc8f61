"""Starting `chatcentral run` as a real process, the way `make run` does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.cloud import APP_SECRET


def start_run(
    db_url: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start the server on a free port; return the process and its base URL."""
    environment = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CHATCENTRAL_LOG_LEVEL": "WARNING",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "run-verify",
        "WHATSAPP_ACCESS_TOKEN": "run-token",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatcentral.cli", "run", "--port", "0", *args],
        cwd=cwd,  # away from the repository: no developer .env is read
        env=environment,
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
            base = match.group(1)
            wait_healthy(base)
            return proc, base
    proc.kill()
    raise AssertionError("run did not announce its address")


def wait_healthy(base: str) -> httpx.Response:
    for _ in range(200):
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("never answered /healthz")


def interrupt(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C: uvicorn drains and the server stops cleanly (exit 0); return its output."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert proc.stdout is not None
    output = proc.stdout.read()
    assert "Traceback" not in output, output
    assert "chatcentral stopped" in output
    return output


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no cleanup at all, as when a machine dies."""
    proc.kill()
    proc.wait(timeout=30)
