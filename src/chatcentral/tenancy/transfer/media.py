"""A shop's stored files in its export: every object of the media store that its rows
name (media a customer sent and the worker kept, `messages.media_key`; a product's photo,
`products.image_key`) travels as a part `media/<key>`. An import writes them back, a
delete removes them.

A shop's files live under keys of its own schema (`<schema>/…` for messages,
`products/<schema>/…` for photos: media/limits.py, products/photos.py). Only keys there
are the shop's: a row naming any other key names nothing this shop may export or delete.
An import under another slug moves the keys to the new schema, in the rows and in the
store alike, so two shops never share an object.

The store is asynchronous (boto3 runs in a worker thread); the transfer commands are
synchronous, so each step runs one short event loop and copies one object at a time:
only the object being copied is held in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import Connection, text

from chatcentral.media.store import Store
from chatcentral.products.photos import key_mime, photos_prefix
from chatcentral.tenancy.transfer.archive import ExportReader, MediaPart, PartWriter, TransferError
from chatcentral.tenancy.transfer.catalog import Table, driver_of

log = logging.getLogger(__name__)

# (table, column naming the object, column holding its MIME type or None when the type
# follows from the key's extension)
_NAMED_BY = (("messages", "media_key", "media_mime"), ("products", "image_key", None))


@dataclass(frozen=True)
class Named:
    """An object the shop's rows name."""

    key: str
    mime: str


@dataclass(frozen=True)
class Exported:
    parts: list[MediaPart]
    missing: list[str]


def prefixes(schema: str) -> tuple[str, str]:
    return f"{schema}/", photos_prefix(schema)


def owned(key: str, schema: str) -> bool:
    """Whether `key` is one of the shop's own (no `..` or empty step out of it either)."""
    steps = key.split("/")
    return key.startswith(prefixes(schema)) and all(s not in ("", ".", "..") for s in steps)


def moved(key: str, old: str, new: str) -> str:
    """The key of the same object for the shop under schema `new`."""
    for before, after in zip(prefixes(old), prefixes(new), strict=True):
        if key.startswith(before):
            return after + key[len(before) :]
    return key


def _naming(tables: list[Table]) -> Iterator[tuple[str, str, str | None]]:
    """The entries of `_NAMED_BY` whose column the shop's tables have (a schema from
    before media were kept has none)."""
    columns = {table.name: table.columns for table in tables}
    for table, key_column, mime_column in _NAMED_BY:
        if key_column in columns.get(table, []):
            yield table, key_column, mime_column


def named(conn: Connection, schema: str, tables: list[Table]) -> list[Named]:
    """The shop's objects its rows name, as `conn`'s transaction sees them, by key."""
    found: dict[str, str] = {}
    for table, key_column, mime_column in _naming(tables):
        query = sql.SQL(
            "SELECT DISTINCT {key}, {mime} FROM {table} WHERE {key} IS NOT NULL"
        ).format(
            key=sql.Identifier(key_column),
            mime=sql.Identifier(mime_column) if mime_column else sql.NULL,
            table=sql.Identifier(schema, table),
        )
        for key, mime in driver_of(conn).execute(query):
            if owned(key, schema):
                found.setdefault(key, mime or key_mime(key))
    return [Named(key, mime) for key, mime in sorted(found.items())]


def export_media(store: Store, writer: PartWriter, objects: list[Named]) -> Exported:
    """Copy each object into the archive; one the store does not have is listed as missing."""
    return asyncio.run(_export(store, writer, objects))


async def _export(store: Store, writer: PartWriter, objects: list[Named]) -> Exported:
    parts: list[MediaPart] = []
    missing: list[str] = []
    for obj in objects:
        path = f"media/{obj.key}"
        with store_errors(f"reading {obj.key}"):
            data = await _read(store, obj.key)
        if data is None:
            log.warning("tenant export: %s is named by a row but not in the media store", obj.key)
            missing.append(obj.key)
            continue
        with writer.part(path) as out:
            out.write(data)
        parts.append(MediaPart(obj.key, path, obj.mime, len(data), out.sha256))
    return Exported(parts, missing)


async def _read(store: Store, key: str) -> bytes | None:
    try:
        return await store.get(key)
    except KeyError:
        return None


def check_keys(export: ExportReader, old_schema: str) -> None:
    """Refuse a file whose media would land outside the shop's own keys."""
    for part in export.manifest.media:
        if not owned(part.key, old_schema):
            raise TransferError(f"{part.path} is not a file of shop schema {old_schema}")


def move_keys(conn: Connection, tables: list[Table], old: str, new: str) -> None:
    """Rewrite the rows' keys for the shop's new schema (the objects follow in put_media)."""
    if old == new:
        return
    for table, key_column, _ in _naming(tables):
        for before, after in zip(prefixes(old), prefixes(new), strict=True):
            conn.execute(
                text(
                    f"UPDATE {sql.Identifier(new, table).as_string(None)} "  # noqa: S608
                    f"SET {key_column} = :after || substr({key_column}, :cut) "
                    f"WHERE starts_with({key_column}, :before)"
                ),
                {"after": after, "before": before, "cut": len(before) + 1},
            )


def put_media(store: Store, export: ExportReader, old: str, new: str, written: list[str]) -> None:
    """Store every media part (verified when the file was opened) under its key for
    schema `new`, streamed from the archive; each key goes into `written` before its
    put, for the caller to undo."""

    async def put() -> None:
        for part in export.manifest.media:
            key = moved(part.key, old, new)
            written.append(key)
            with store_errors(f"writing {key}"):
                await store.put(key, export.open(part), part.mime)

    asyncio.run(put())


def unrecorded(store: Store, schema: str, named: list[str]) -> list[str]:
    """The shop's objects no row names: stored, then never recorded (a download cut off
    between the two). Not in an export; a delete removes them with the rest."""

    async def listed() -> list[str]:
        known = set(named)
        found: list[str] = []
        for prefix in prefixes(schema):
            with store_errors(f"listing {prefix}"):
                found += [key for key in await store.keys(prefix) if key not in known]
        return found

    return asyncio.run(listed())


def remove(store: Store, keys: list[str]) -> int:
    """Delete each object, stopping at the first the store fails (TransferError); how many."""

    async def delete() -> int:
        for key in keys:
            with store_errors(f"deleting {key}"):
                await store.delete(key)
        return len(keys)

    return asyncio.run(delete())


@contextmanager
def store_errors(doing: str) -> Iterator[None]:
    """Whatever the store raises (boto3's errors, the file system's) ends the command
    with one line for the operator."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any failure of the store, said in one line
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise TransferError(f"the media store failed {doing} ({reason})") from None


@contextmanager
def undone_on_failure(store: Store) -> Iterator[list[str]]:
    """A list for the keys an import writes; if the import fails (its transaction
    included), those objects are deleted again, best effort (a failure is logged)."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        asyncio.run(_undo(store, written))
        raise


async def _undo(store: Store, keys: list[str]) -> None:
    for key in keys:
        try:
            await store.delete(key)
        except Exception:  # logged: the import's own error is the one to report
            log.warning("tenant import failed; %s may remain in the store", key, exc_info=True)
