"""`chatcentral tenant delete SLUG --confirm SLUG`: export, then drop, in one transaction.

The shop's tables are locked against writes (EXCLUSIVE: reads go on) before the export is
written, so nothing the shop receives can slip in between the export and the drop; its
messages wait and, once the schema is gone, find no shop. The export is read back and
verified before anything is dropped. `central.audit_log` keeps the shop's history: its
rows lose the foreign key (`tenant_id` NULL) and keep the slug in their details.

The shop's files in the media store (the receipts its customers sent, its product
photos) are deleted too, once every row is gone within the transaction and just before
it commits: a failure until then leaves the shop as it was, and files deleted before a
failure are in the export. So are the objects under the shop's keys that no row names
(a download interrupted between its put and its row): not in the export, since nothing
refers to them, but no customer's file outlives the shop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql
from sqlalchemy import Engine, insert, text

from chatcentral.media.store import Store
from chatcentral.models.central import AuditLog
from chatcentral.tenancy.naming import quoted_schema
from chatcentral.tenancy.registry import announce_change
from chatcentral.tenancy.transfer.archive import ExportReader, Manifest, TransferError
from chatcentral.tenancy.transfer.catalog import driver_of, tables_in_order
from chatcentral.tenancy.transfer.export import find_shop, write_export
from chatcentral.tenancy.transfer.media import remove, unrecorded

# A shop in the middle of a long transaction is not worth waiting for indefinitely.
LOCK_TIMEOUT = "10s"


@dataclass(frozen=True)
class Deleted:
    slug: str
    export: Path
    sha256: str
    manifest: Manifest
    files_removed: int
    unrecorded_removed: int  # of them, objects under the shop's keys that no row named


def delete_tenant(
    engine: Engine,
    slug: str,
    *,
    confirm: str,
    export_to: Path,
    store: Store,
    force: bool = False,
    actor: str = "cli",
) -> Deleted:
    if confirm != slug:
        raise TransferError(f"refused: --confirm must repeat the slug ({slug!r}) exactly")
    with engine.begin() as conn:
        shop = find_shop(conn, slug, lock=True)
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        tables = tables_in_order(conn, shop.schema)
        if tables:
            names = sql.SQL(", ").join(sql.Identifier(shop.schema, t.name) for t in tables)
            driver_of(conn).execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(names))
        manifest = write_export(conn, shop, export_to, store=store, force=force)
        with ExportReader(export_to):  # read back: every part's sha256 checked
            pass
        digest = _sha256(export_to)
        announce_change(conn, slug)  # reads the number by slug: before the row goes
        conn.execute(text(f"DROP SCHEMA {quoted_schema(shop.schema)} CASCADE"))
        params = {"id": shop.id, "slug": slug}
        conn.execute(text("DELETE FROM central.outbox WHERE tenant_id = :id"), params)
        conn.execute(text("DELETE FROM central.monthly_usage WHERE tenant_id = :id"), params)
        conn.execute(
            text(
                "UPDATE central.audit_log SET tenant_id = NULL, "
                "details = jsonb_build_object('slug', CAST(:slug AS text)) || details "
                "WHERE tenant_id = :id"
            ),
            params,
        )
        conn.execute(text("DELETE FROM central.tenants WHERE id = :id"), params)
        named = [part.key for part in manifest.media]
        try:
            strays = unrecorded(store, shop.schema, named)
        except TransferError as exc:
            raise TransferError(f"{exc}: tenant {slug} is not deleted") from None
        conn.execute(
            insert(AuditLog).values(
                tenant_id=None,
                actor=actor,
                action="tenant.delete",
                details={
                    "slug": slug,
                    "phone_number_id": shop.phone_number_id,
                    "export": str(export_to),
                    "sha256": digest,
                    "rows": sum(part.rows for part in manifest.tables),
                    "pending_outbox_dropped": manifest.pending_outbox_left,
                    "files_removed": len(named) + len(strays),
                    "unrecorded_files_removed": len(strays),
                },
            )
        )
        try:
            removed = remove(store, named + strays)
        except TransferError as exc:
            raise TransferError(
                f"{exc}: tenant {slug} is not deleted (its files removed so far are in {export_to})"
            ) from None
    return Deleted(
        slug=slug,
        export=export_to,
        sha256=digest,
        manifest=manifest,
        files_removed=removed,
        unrecorded_removed=len(strays),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
