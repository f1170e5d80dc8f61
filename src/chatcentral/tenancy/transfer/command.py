"""`chatcentral tenant export|import|delete`: moving or removing one shop.

`cli.py` hands in its error type and its engine factory, so this module needs nothing
from the entry point above it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatcentral.db.engine import EngineFactory

if TYPE_CHECKING:
    from chatcentral.media.store import Store
    from chatcentral.tenancy.transfer.archive import Manifest

_SHOWN = 10  # missing keys named in the output; the manifest lists them all


def add_transfer_commands(
    tenant_commands: argparse._SubParsersAction[Any],
    error: type[Exception],
    admin_engine: EngineFactory,
) -> None:
    export = tenant_commands.add_parser(
        "export",
        help="write one shop (its schema, central rows and files) to a restorable file",
        description=(
            "Writes the shop's tables (COPY, one consistent snapshot), its registry row "
            "and monthly usage, and the files of the media store its rows name (receipts, "
            "product photos) to FILE (a .tar.gz with a manifest and sha256 of each part). "
            "A named file missing from the store is reported, not fatal. "
            "Refused while the shop has undelivered outbox messages, unless --force."
        ),
    )
    export.add_argument("slug")
    export.add_argument("file", type=Path)
    export.add_argument(
        "--force", action="store_true", help="export even with undelivered outbox messages"
    )
    export.set_defaults(handler=lambda args: _cmd_export(args, error, admin_engine))

    restore = tenant_commands.add_parser(
        "import",
        help="restore a shop from an export (this or another installation)",
        description=(
            "Verifies the file, then in one transaction creates the schema at the exported "
            "revision, copies the rows in, migrates to head, registers the shop and writes "
            "its files to this installation's media store. Refused when the slug or "
            "phone-number-id is in use here."
        ),
    )
    restore.add_argument("file", type=Path)
    restore.add_argument("--slug", help="register the shop under this slug instead")
    restore.add_argument("--phone-number-id", help="and/or with this WhatsApp number id")
    restore.set_defaults(handler=lambda args: _cmd_import(args, error, admin_engine))

    delete = tenant_commands.add_parser(
        "delete",
        help="export a shop, then drop its schema, registry rows and files (audited)",
        description=(
            "Writes an export first (--export-to, default DATA_DIR/exports/SLUG-TIME.tar.gz), "
            "verifies it, then drops the schema, the registry row, its usage and outbox rows "
            "in the same transaction, and deletes its files from the media store. The audit "
            "log keeps its rows (tenant_id set to NULL)."
        ),
    )
    delete.add_argument("slug")
    delete.add_argument("--confirm", required=True, metavar="SLUG", help="repeat the slug")
    delete.add_argument("--export-to", type=Path, metavar="FILE")
    delete.add_argument(
        "--force", action="store_true", help="delete even with undelivered outbox messages"
    )
    delete.set_defaults(handler=lambda args: _cmd_delete(args, error, admin_engine))


def _store() -> Store:
    from chatcentral.config import get_settings
    from chatcentral.media.store import make_store

    return make_store(get_settings())


def _missing(manifest: Manifest) -> None:
    """Say which files the rows name that the store did not have (all are in the manifest)."""
    keys = manifest.media_missing
    if keys:
        shown = ", ".join(keys[:_SHOWN]) + (
            f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
        )
        print(
            f"  {len(keys)} file(s) named by the shop's rows missing from the media store: {shown}"
        )


def _files(manifest: Manifest) -> str:
    return f"{len(manifest.media)} file(s), {sum(part.size for part in manifest.media)} bytes"


def _cmd_export(
    args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory
) -> int:
    from chatcentral.tenancy.transfer.archive import TransferError
    from chatcentral.tenancy.transfer.export import export_tenant

    path: Path = args.file
    if path.exists():
        raise error(f"{path} exists: choose another file name (an export is never overwritten)")
    with admin_engine() as engine:
        try:
            manifest = export_tenant(engine, args.slug, path, store=_store(), force=args.force)
        except TransferError as exc:
            raise error(str(exc)) from None
    rows = sum(part.rows for part in manifest.tables)
    print(
        f"exported tenant {manifest.slug} ({len(manifest.tables)} tables, {rows} rows, "
        f"{_files(manifest)}, revision {manifest.tenant_revision}) to {path}"
    )
    _missing(manifest)
    if manifest.pending_outbox_left:
        print(f"  {manifest.pending_outbox_left} undelivered outbox message(s) not exported")
    return 0


def _cmd_import(
    args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory
) -> int:
    from chatcentral.config import get_settings
    from chatcentral.tenancy.transfer.archive import TransferError
    from chatcentral.tenancy.transfer.import_ import import_tenant

    with admin_engine() as engine:
        try:
            made = import_tenant(
                engine,
                args.file,
                store=_store(),
                slug=args.slug,
                phone_number_id=args.phone_number_id,
                settings=get_settings(),
            )
        except TransferError as exc:
            raise error(str(exc)) from None
    migrated = (
        f", migrated {made.from_revision} → {made.revision}"
        if made.from_revision != made.revision
        else ""
    )
    print(
        f"imported tenant {made.slug} (id {made.id}) into schema {made.schema}: "
        f"{made.rows} rows, {made.files} file(s){migrated}"
    )
    return 0


def _cmd_delete(
    args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory
) -> int:
    from chatcentral.config import get_settings
    from chatcentral.tenancy.transfer.archive import TransferError
    from chatcentral.tenancy.transfer.delete import delete_tenant

    if args.confirm != args.slug:
        raise error(f"refused: --confirm must repeat the slug ({args.slug!r}) exactly")
    path: Path | None = args.export_to
    if path is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = get_settings().chatcentral_data_dir / "exports" / f"{args.slug}-{stamp}.tar.gz"
    if path.exists():
        raise error(f"{path} exists: choose another file name (an export is never overwritten)")
    with admin_engine() as engine:
        try:
            done = delete_tenant(
                engine,
                args.slug,
                confirm=args.confirm,
                export_to=path,
                store=_store(),
                force=args.force,
            )
        except TransferError as exc:
            raise error(str(exc)) from None
    strays = f" ({done.unrecorded_removed} never recorded)" if done.unrecorded_removed else ""
    print(
        f"deleted tenant {done.slug} and {done.files_removed} file(s) from the media store"
        f"{strays}; its export is {done.export} (sha256 {done.sha256})"
    )
    _missing(done.manifest)
    return 0
