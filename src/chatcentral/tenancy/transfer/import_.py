"""`chatcentral tenant import FILE [--slug NEW] [--phone-number-id NEW]`.

The file is verified first (every part's sha256), then one transaction does the rest:
create the schema, migrate it to the revision the export was made at (so the columns
are exactly those exported), COPY the rows in, bring the sequences past the rows, migrate
to head, insert the central rows, write the shop's files to the media store and announce
the shop. A failure at any point rolls all of it back (PostgreSQL DDL is transactional)
and deletes the files already written: nothing is left behind.

The files go in last, once the shop's central row holds its slug, number and schema:
a concurrent import of the same shop waits on that row's unique keys instead of writing
over the same objects. Under another slug the keys move to the new schema (media.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from chatcentral.config import ConfigError, Settings
from chatcentral.db.migrations import alembic_config, head_revision, upgrade_tenant
from chatcentral.media.store import Store
from chatcentral.tenancy.naming import InvalidSlug, quoted_schema, schema_for
from chatcentral.tenancy.registry import record_change
from chatcentral.tenancy.secrets import decrypt_token
from chatcentral.tenancy.transfer.archive import ExportReader, Manifest, Part, TransferError
from chatcentral.tenancy.transfer.catalog import (
    central_columns,
    driver_of,
    fix_copy_settings,
    sequence_of,
    tables_in_order,
)
from chatcentral.tenancy.transfer.export import CENTRAL_TENANT_SKIP, CENTRAL_USAGE_SKIP
from chatcentral.tenancy.transfer.media import (
    check_keys,
    move_keys,
    put_media,
    undone_on_failure,
)

_PHONE_NUMBER_ID = re.compile(r"^\d{5,32}$")


@dataclass(frozen=True)
class Imported:
    id: int
    slug: str
    schema: str
    rows: int
    files: int
    from_revision: str
    revision: str


def import_tenant(
    engine: Engine,
    path: Path,
    *,
    store: Store,
    slug: str | None = None,
    phone_number_id: str | None = None,
    settings: Settings | None = None,
    actor: str = "cli",
) -> Imported:
    with ExportReader(path) as export:
        manifest = export.manifest
        slug = slug or manifest.slug
        number = phone_number_id or manifest.phone_number_id
        try:
            schema = schema_for(slug)
        except InvalidSlug as exc:
            raise TransferError(str(exc)) from None
        if not _PHONE_NUMBER_ID.match(number):
            raise TransferError(
                f"invalid phone-number-id {number!r}: expected the digits Meta shows"
            )
        _require_known_revision(manifest.tenant_revision)
        old_schema = manifest.schema or schema_for(manifest.slug)
        check_keys(export, old_schema)
        try:
            with undone_on_failure(store) as written, engine.begin() as conn:
                _refuse_clashes(conn, slug, number, schema)
                plan_id = _plan_id(conn, manifest.plan)
                fix_copy_settings(conn)
                rows = _restore_schema(conn, export, schema)
                tenant_id = _insert_central(conn, export, slug, number, schema, plan_id, settings)
                details = {
                    "slug": slug,
                    "from_slug": manifest.slug,
                    "from_phone_number_id": manifest.phone_number_id,
                    "file": path.name,
                    "exported_at": manifest.created_at,
                    "revision": manifest.tenant_revision,
                    "rows": rows,
                    "files": len(manifest.media),
                }
                record_change(conn, slug, tenant_id, "tenant.import", actor=actor, details=details)
                move_keys(conn, tables_in_order(conn, schema), old_schema, schema)
                put_media(store, export, old_schema, schema, written)
        except IntegrityError as exc:
            # Lost a race with a concurrent onboarding of the same slug or number.
            diag = getattr(exc.orig, "diag", None)
            constraint = getattr(diag, "constraint_name", None) or "a unique constraint"
            raise TransferError(
                f"tenant {slug!r} conflicts with an existing one ({constraint})"
            ) from None
    return Imported(
        tenant_id,
        slug,
        schema,
        rows,
        len(manifest.media),
        manifest.tenant_revision,
        head_revision("tenant"),
    )


def _require_known_revision(revision: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config("tenant"))
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise TransferError(
            f"the export is at tenant revision {revision!r}, unknown to this chatcentral "
            "(made by a newer version? upgrade chatcentral here first)"
        )


def _refuse_clashes(conn: Connection, slug: str, number: str, schema: str) -> None:
    clash = conn.execute(
        text(
            "SELECT slug, phone_number_id FROM central.tenants "
            "WHERE slug = :slug OR phone_number_id = :number OR schema_name = :schema"
        ),
        {"slug": slug, "number": number, "schema": schema},
    ).first()
    if clash is not None:
        if clash.phone_number_id == number:
            raise TransferError(
                f"phone-number-id {number} already belongs to tenant {clash.slug!r} "
                "(import with --phone-number-id NEW)"
            )
        raise TransferError(f"slug {slug!r} is already taken (import with --slug NEW)")
    exists = conn.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
    ).first()
    if exists is not None:
        raise TransferError(
            f"schema {schema} already exists in the database (import with --slug NEW)"
        )


def _plan_id(conn: Connection, code: str) -> int:
    plan: int | None = conn.execute(
        text("SELECT id FROM central.plans WHERE code = :c"), {"c": code}
    ).scalar()
    if plan is None:
        raise TransferError(f"plan {code!r} is not in central.plans (run chatcentral migrate)")
    return plan


def _restore_schema(conn: Connection, export: ExportReader, schema: str) -> int:
    manifest = export.manifest
    conn.execute(text(f"CREATE SCHEMA {quoted_schema(schema)}"))
    upgrade_tenant(conn, schema, manifest.tenant_revision)
    made = {table.name: table.columns for table in tables_in_order(conn, schema)}
    exported = {part.table: part.columns for part in manifest.tables}
    if made != exported:
        odd = sorted(set(made) ^ set(exported)) or sorted(
            name for name in made if made[name] != exported.get(name)
        )
        raise TransferError(
            f"the export's tables do not match revision {manifest.tenant_revision} ({odd[0]})"
        )
    # The migrations seed some tables (order statuses): the export holds those rows too.
    targets = sql.SQL(", ").join(sql.Identifier(schema, name) for name in made)
    pg = driver_of(conn)
    pg.execute(sql.SQL("TRUNCATE {}").format(targets))
    rows = 0
    for part in manifest.tables:
        rows += _copy_in(pg, export, part, sql.Identifier(schema, part.table))
        for seq in part.sequences:
            _restore_sequence(conn, schema, part.table, seq.column, seq.last_value)
    upgrade_tenant(conn, schema, "head")
    return rows


def _restore_sequence(
    conn: Connection, schema: str, table: str, column: str, exported: int | None
) -> None:
    """The next id is past both the rows and where the sequence had got to (ids handed
    out then rolled back or deleted are not handed out again)."""
    column_sql = sql.Identifier(column).as_string(None)
    table_sql = sql.Identifier(schema, table).as_string(None)
    highest = conn.execute(text(f"SELECT max({column_sql}) FROM {table_sql}")).scalar()  # noqa: S608
    values = [v for v in (highest, exported) if v is not None]
    seq = sequence_of(conn, schema, table, column)
    if values:
        conn.execute(
            text("SELECT setval(CAST(:seq AS regclass), :v, true)"), {"seq": seq, "v": max(values)}
        )


def _copy_in(
    pg: psycopg.Connection[Any], export: ExportReader, part: Part, table: sql.Composable
) -> int:
    query = sql.SQL("COPY {table} ({cols}) FROM STDIN").format(
        table=table, cols=sql.SQL(", ").join(map(sql.Identifier, part.columns))
    )
    try:
        with pg.cursor() as cur:
            with cur.copy(query) as copy:
                for chunk in export.chunks(part):
                    copy.write(chunk)
            rows = cur.rowcount
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        # Hashes right but contents wrong (edited by hand, or a bug): name the part.
        detail = str(exc).strip().splitlines()
        raise TransferError(
            f"{part.path} refused by the database: {detail[0] if detail else type(exc).__name__}"
        ) from None
    if rows != part.rows:
        raise TransferError(f"{part.path}: {rows} rows read, the manifest says {part.rows}")
    return rows


def _insert_central(
    conn: Connection,
    export: ExportReader,
    slug: str,
    number: str,
    schema: str,
    plan_id: int,
    settings: Settings | None,
) -> int:
    manifest = export.manifest
    pg = driver_of(conn)
    tenants = manifest.part("tenants")
    _staging(conn, pg, export, tenants, "tenants", CENTRAL_TENANT_SKIP)
    if tenants.rows != 1:
        raise TransferError(f"{tenants.path} holds {tenants.rows} rows, expected one")
    conn.execute(
        text(
            "UPDATE pg_temp.import_tenants SET slug = :slug, phone_number_id = :n, schema_name = :s"
        ),
        {"slug": slug, "n": number, "s": schema},
    )
    _check_token(conn, settings)
    cols = _names(tenants.columns)
    tenant_id: int = conn.execute(
        text(
            f"INSERT INTO central.tenants ({cols}, plan_id) "  # noqa: S608 - names from the catalog
            f"SELECT {cols}, :plan FROM pg_temp.import_tenants RETURNING id"
        ),
        {"plan": plan_id},
    ).scalar_one()
    usage = manifest.part("monthly_usage")
    _staging(conn, pg, export, usage, "monthly_usage", CENTRAL_USAGE_SKIP)
    cols = _names(usage.columns)
    conn.execute(
        text(
            f"INSERT INTO central.monthly_usage ({cols}, tenant_id) "  # noqa: S608
            f"SELECT {cols}, :id FROM pg_temp.import_monthly_usage"
        ),
        {"id": tenant_id},
    )
    return tenant_id


def _staging(
    conn: Connection,
    pg: psycopg.Connection[Any],
    export: ExportReader,
    part: Part,
    table: str,
    skip: frozenset[str],
) -> None:
    """COPY a central part into a temporary table shaped like the central one (dropped at
    commit), so it can be adjusted before it is inserted."""
    here = set(central_columns(conn, table, skip))
    missing = [column for column in part.columns if column not in here]
    if missing:
        raise TransferError(
            f"central.{table} here has no column {missing[0]!r}: the export was made by a "
            "newer chatcentral (upgrade this one and run chatcentral migrate)"
        )
    staging = sql.Identifier("pg_temp", f"import_{table}")
    pg.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {staging} ON COMMIT DROP "
            "AS SELECT {cols} FROM {src} WITH NO DATA"
        ).format(
            staging=staging,
            cols=sql.SQL(", ").join(map(sql.Identifier, part.columns)),
            src=sql.Identifier("central", table),
        )
    )
    _copy_in(pg, export, part, staging)


def _check_token(conn: Connection, settings: Settings | None) -> None:
    token = conn.execute(text("SELECT access_token_encrypted FROM pg_temp.import_tenants")).scalar()
    if token is None:
        return
    try:
        if settings is None:
            raise ConfigError("CHATCENTRAL_TOKEN_KEY is needed to check the shop's token")
        decrypt_token(settings, bytes(token))
    except ConfigError:
        raise TransferError(
            "the shop's own Graph API token cannot be decrypted here: set the exporting "
            "installation's CHATCENTRAL_TOKEN_KEY"
        ) from None


def _names(columns: Iterable[str]) -> str:
    return ", ".join(sql.Identifier(c).as_string(None) for c in columns)


__all__ = ["Imported", "Manifest", "import_tenant"]
