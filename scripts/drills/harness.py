"""What the drills run against, as an outside tester sees it: a durable embedded PostgreSQL
that can be stopped and started, `chatcentral run` as a process that can be killed, and a
sender that delivers signed webhooks the way Meta does (again and again until a 200)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chatcentral.db.embedded import EmbeddedServer, start_embedded

SECRET = "drill-secret"  # noqa: S105 - only for the server the drill starts

# Meta retries an unacknowledged webhook with backoff for days; a drill compresses that.
RETRY_FIRST_S = 0.2
RETRY_CAP_S = 1.0


class Postgres:
    """The embedded server with fsync on (durability is part of what is drilled)."""

    def __init__(self, data_dir: Path) -> None:
        self.server: EmbeddedServer = start_embedded(data_dir, database="postgres")

    @property
    def admin_url(self) -> str:
        return self.server.admin_url()

    def stop(self, mode: str = "immediate") -> None:
        """`pg_ctl stop -m immediate`: every backend dies at once, as in a crash; the next
        start replays the WAL, so only what was committed (and fsynced) survives."""
        handle = self.server.handle
        pg_ctl = str(self.server.bin_dir / "pg_ctl")
        subprocess.run(
            [pg_ctl, "-D", str(self.server.pgdata), "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
            user=handle.system_user,
        )

    def start(self) -> None:
        """Start it again with the options, socket and log the embedded server uses (the
        handle then also stops the new postmaster when the drill ends)."""
        handle = self.server.handle
        with handle._lock:
            handle.ensure_postgres_running()

    def close(self) -> None:
        self.server.stop()


class AppProcess:
    """`chatcentral run` in its own process, its output in a log file."""

    def __init__(self, db_url: str, cloud_url: str, log_path: Path) -> None:
        self._env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "WHATSAPP_APP_SECRET": SECRET,
            "WHATSAPP_VERIFY_TOKEN": "drill",
            "WHATSAPP_ACCESS_TOKEN": "drill",
            "WHATSAPP_API_BASE_URL": cloud_url,
            "CHATCENTRAL_LOG_LEVEL": "WARNING",
        }
        self.log_path = log_path
        self.base = ""
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "chatcentral.cli", "run", "--port", "0"],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,  # away from the repository: no developer .env
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://\S+)", self._log_since(offset))
            if found:
                self._wait_healthy(found.group(1), deadline)
                self.base = found.group(1)
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"chatcentral run did not start; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when the machine dies."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=30)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self._log_since(0)

    def _log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _wait_healthy(self, base: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"chatcentral run never answered /healthz; see {self.log_path}")


@dataclass
class Tally:
    """Every answer the webhook gave during one drill."""

    posts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0  # refused, reset, timed out: no HTTP answer at all

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def other_5xx(self) -> int:
        return self.server_errors - self.statuses[503]


class Meta:
    """Delivers signed webhook bodies to whichever `chatcentral run` is current."""

    def __init__(self, app: AppProcess, *, concurrency: int = 24, timeout: float = 30.0) -> None:
        self.app = app
        self.tally = Tally()
        self._gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.AsyncClient(limits=limits, timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, raw: bytes, headers: dict[str, str]) -> int | None:
        """One POST; the status, or None when no HTTP answer came back."""
        async with self._gate:
            self.tally.posts += 1
            try:
                response = await self._client.post(
                    f"{self.app.base}/webhook", content=raw, headers=headers
                )
            except httpx.TransportError:
                self.tally.transport_errors += 1
                return None
        self.tally.statuses[response.status_code] += 1
        return response.status_code

    async def deliver(self, raw: bytes, headers: dict[str, str], *, patience: float = 90.0) -> int:
        """Post until acknowledged, as Meta does with anything but a 200; return the final
        status (a 4xx is final: the body itself is refused and retrying cannot help)."""
        deadline = time.monotonic() + patience
        pause = RETRY_FIRST_S
        while True:
            status = await self.post(raw, headers)
            if status is not None and status < 500:
                return status
            if time.monotonic() > deadline:
                return status or 0
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_CAP_S)
