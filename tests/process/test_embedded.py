"""The embedded server is reused across runs and stops cleanly."""

from __future__ import annotations

from pathlib import Path

import psycopg

from chatcentral.db.embedded import start_embedded


def test_embedded_server_keeps_data_across_restarts(tmp_path: Path) -> None:
    first = start_embedded(tmp_path, database="chatcentral")
    with psycopg.connect(first.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('sigue aquí')")
        locks = conn.execute("SHOW max_locks_per_transaction").fetchone()
    assert locks == ("256",)
    first.stop()
    assert not (first.pgdata / "postmaster.pid").exists()

    second = start_embedded(tmp_path, database="chatcentral")
    try:
        with psycopg.connect(second.url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == ("sigue aquí",)
    finally:
        second.stop()
