"""What a tenant schema holds, read from PostgreSQL's catalogs: its tables in dependency
order, their copyable columns and the sequences behind identity columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, text

from chatcentral.tenancy.transfer.archive import TransferError

# Alembic's bookkeeping: the import recreates it by migrating, the manifest names it.
SKIPPED = frozenset({"alembic_version"})

# Fixed for COPY in both directions, so that the text written is exact (floats with all
# their digits, timestamps in UTC with their offset) and is read back the same anywhere.
COPY_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    identity: list[str]  # columns with a sequence behind them (identity or serial)


def fix_copy_settings(conn: Connection) -> None:
    for name, value in COPY_SETTINGS.items():
        conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


def tables_in_order(conn: Connection, schema: str) -> list[Table]:
    """The schema's ordinary tables, each after every table it references."""
    names = [
        row.relname
        for row in conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "ORDER BY c.relname"
            ),
            {"s": schema},
        )
        if row.relname not in SKIPPED
    ]
    edges = conn.execute(
        text(
            "SELECT DISTINCT c.relname AS child, p.relname AS parent FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.contype = 'f' AND n.nspname = :s AND k.conrelid <> k.confrelid"
        ),
        {"s": schema},
    ).all()
    parents: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in edges:
        if child in parents and parent in parents:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(name for name, needs in parents.items() if not needs)
        if not ready:
            raise TransferError(
                f"tables of {schema} reference each other in a cycle: {', '.join(sorted(parents))}"
            )
        for name in ready:
            ordered.append(name)
            del parents[name]
        for needs in parents.values():
            needs.difference_update(ready)
    return [_table(conn, schema, name) for name in ordered]


def _table(conn: Connection, schema: str, name: str) -> Table:
    rows = conn.execute(
        text(
            "SELECT a.attname, pg_get_serial_sequence(CAST(:rel AS text), a.attname) AS seq "
            "FROM pg_attribute a WHERE a.attrelid = CAST(:rel AS regclass) "
            "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
            "ORDER BY a.attnum"
        ),
        {"rel": qualified(schema, name)},
    ).all()
    return Table(
        name=name,
        columns=[row.attname for row in rows],
        identity=[row.attname for row in rows if row.seq is not None],
    )


def sequence_of(conn: Connection, schema: str, table: str, column: str) -> str:
    seq: str | None = conn.execute(
        text("SELECT pg_get_serial_sequence(CAST(:rel AS text), CAST(:column AS text))"),
        {"rel": qualified(schema, table), "column": column},
    ).scalar()
    if seq is None:
        raise TransferError(f"{schema}.{table}.{column} has no sequence")
    return seq


def qualified(schema: str, table: str) -> str:
    """`"schema"."table"`, quoted as SQL wants it (for regclass casts)."""
    return sql.Identifier(schema, table).as_string(None)


def central_columns(conn: Connection, table: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """Copyable columns of `central.<table>`, in table order, less `skip`."""
    rows = conn.execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:rel AS regclass) "
            "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"
        ),
        {"rel": qualified("central", table)},
    ).scalars()
    return [name for name in rows if name not in skip]


def driver_of(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under `conn` (same transaction), for COPY."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("tenant transfer needs the psycopg driver")
    return driver
