"""Whole databases on a server: for tests, benchmarks and load runs, never the app."""

from __future__ import annotations

import psycopg
from sqlalchemy import make_url

from chatcentral.db.engine import plain_url


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    return make_url(plain_url(url)).set(database=name).render_as_string(hide_password=False)


def recreate_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """Drop `name` if it exists, create it (optionally from a template); return its URL."""
    source = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    with psycopg.connect(plain_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"{source}')
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(plain_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
