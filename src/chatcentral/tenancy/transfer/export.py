"""`chatcentral tenant export SLUG FILE`: one shop's schema and central rows, one file.

Everything is read in one REPEATABLE READ transaction, so the tables and the central
rows are one consistent picture even while the shop keeps chatting. Rows travel as COPY
text (exact for numeric, timestamps, jsonb, arrays and bytea) table by table.

Exported: every table of the tenant schema (not alembic's version table: the manifest
names the revision), the `central.tenants` row (its plan by code, its token still
encrypted), its `central.monthly_usage`, and every object of the media store its rows
name (media.py; one the store lacks is listed in the manifest as missing). Not
exported: `central.audit_log` (the installation's record of what its operators did; it
stays where it was written) and
`central.outbox` (sent rows are history of this installation; pending ones are replies
not yet delivered, so a shop with pending rows is refused unless `force`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from chatcentral import __version__
from chatcentral.db.migrations import current_tenant_revision
from chatcentral.media.store import Store
from chatcentral.tenancy.transfer.archive import (
    Manifest,
    Part,
    PartWriter,
    Sequence,
    TransferError,
)
from chatcentral.tenancy.transfer.catalog import (
    Table,
    central_columns,
    driver_of,
    fix_copy_settings,
    sequence_of,
    tables_in_order,
)
from chatcentral.tenancy.transfer.media import export_media, named

CENTRAL_TENANT_SKIP = frozenset({"id", "plan_id"})  # given anew by the installation
CENTRAL_USAGE_SKIP = frozenset({"tenant_id"})


@dataclass(frozen=True)
class ShopRow:
    id: int
    slug: str
    schema: str
    phone_number_id: str
    plan: str


def find_shop(conn: Connection, slug: str, *, lock: bool = False) -> ShopRow:
    query = (
        "SELECT t.id, t.slug, t.schema_name, t.phone_number_id, p.code FROM central.tenants t "
        "JOIN central.plans p ON p.id = t.plan_id WHERE t.slug = :slug"
    )
    row = conn.execute(text(query + (" FOR UPDATE OF t" if lock else "")), {"slug": slug}).first()
    if row is None:
        raise TransferError(f"no tenant with slug {slug!r}")
    return ShopRow(*row)


def pending_outbox(conn: Connection, tenant_id: int) -> int:
    count: int = conn.execute(
        text("SELECT count(*) FROM central.outbox WHERE tenant_id = :id AND status = 'pending'"),
        {"id": tenant_id},
    ).scalar_one()
    return count


def export_tenant(
    engine: Engine, slug: str, destination: Path, *, store: Store, force: bool = False
) -> Manifest:
    """Write the shop `slug` and its files in `store` to `destination` (replaced
    atomically); return its manifest."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            return write_export(conn, find_shop(conn, slug), destination, store=store, force=force)


def write_export(
    conn: Connection, shop: ShopRow, destination: Path, *, store: Store, force: bool = False
) -> Manifest:
    """Export `shop` as `conn`'s transaction sees it (the caller picks isolation and locks)."""
    pending = pending_outbox(conn, shop.id)
    if pending and not force:
        raise TransferError(
            f"tenant {shop.slug} has {pending} undelivered outbox message(s); deactivate it "
            "and let the worker deliver them, or pass --force to leave them behind"
        )
    revision = current_tenant_revision(conn, shop.schema)
    if revision is None:
        raise TransferError(
            f"schema {shop.schema} has no alembic_version (run chatcentral migrate)"
        )
    central_revision = conn.execute(
        text("SELECT version_num FROM central.alembic_version")
    ).scalar()
    fix_copy_settings(conn)
    pg = driver_of(conn)
    # Parts are staged beside the destination: the same disk that must hold the export,
    # not a /tmp that may be a small tmpfs.
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        prefix=".chatcentral-export-", dir=destination.parent
    ) as folder:
        writer = PartWriter(Path(folder))
        schema_tables = tables_in_order(conn, shop.schema)
        tables = [
            _copy_out(
                pg,
                writer,
                f"tables/{table.name}.copy",
                table.name,
                sql.Identifier(shop.schema, table.name),
                table.columns,
                None,
                _sequences(conn, shop.schema, table),
            )
            for table in schema_tables
        ]
        central = [
            _copy_out(
                pg,
                writer,
                "central/tenants.copy",
                "tenants",
                sql.Identifier("central", "tenants"),
                central_columns(conn, "tenants", CENTRAL_TENANT_SKIP),
                sql.SQL("id = {}").format(shop.id),
                [],
            ),
            _copy_out(
                pg,
                writer,
                "central/monthly_usage.copy",
                "monthly_usage",
                sql.Identifier("central", "monthly_usage"),
                central_columns(conn, "monthly_usage", CENTRAL_USAGE_SKIP),
                sql.SQL("tenant_id = {}").format(shop.id),
                [],
            ),
        ]
        media = export_media(store, writer, named(conn, shop.schema, schema_tables))
        manifest = Manifest(
            chatcentral_version=__version__,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            slug=shop.slug,
            phone_number_id=shop.phone_number_id,
            plan=shop.plan,
            tenant_revision=revision,
            central_revision=central_revision,
            tables=tables,
            central=central,
            pending_outbox_left=pending,
            schema=shop.schema,
            media=media.parts,
            media_missing=media.missing,
        )
        writer.write(destination, manifest)
    return manifest


def _sequences(conn: Connection, schema: str, table: Table) -> list[Sequence]:
    return [
        Sequence(
            column=column,
            last_value=conn.execute(
                text("SELECT pg_sequence_last_value(CAST(:seq AS regclass))"),
                {"seq": sequence_of(conn, schema, table.name, column)},
            ).scalar(),
        )
        for column in table.identity
    ]


def _copy_out(
    pg: psycopg.Connection[Any],
    writer: PartWriter,
    path: str,
    name: str,
    table: sql.Identifier,
    columns: list[str],
    where: sql.Composable | None,
    sequences: list[Sequence],
) -> Part:
    query = sql.SQL("COPY (SELECT {cols} FROM {table}{where}) TO STDOUT").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        table=table,
        where=sql.SQL(" WHERE {}").format(where) if where is not None else sql.SQL(""),
    )
    with writer.part(path) as out, pg.cursor() as cur:
        with cur.copy(query) as copy:
            for chunk in copy:
                out.write(chunk)
        rows = cur.rowcount
    return Part(
        table=name, path=path, columns=columns, rows=rows, sha256=out.sha256, sequences=sequences
    )
