"""The export file: a gzip'd tar of parts and a manifest naming each part's sha256.

A table part is one table in PostgreSQL's COPY text format, written under fixed session
settings (UTC, ISO dates, full float precision) so the text is exact and means the same
thing wherever it is read back. A media part (`media/<key>`, format version 2) is one
object of the media store that the shop's rows name, byte for byte. The manifest is JSON
and is read first; a part whose bytes do not hash to the manifest's value refuses the
whole file before any database work starts. Version 1 files (no media) still read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT = "chatcentral-tenant-export"
FORMAT_VERSION = 2
READABLE_VERSIONS = frozenset({1, FORMAT_VERSION})  # 1: before media travelled
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


class TransferError(Exception):
    """Export, import or delete refused; the message is one line an operator can act on."""


@dataclass(frozen=True)
class Sequence:
    """An identity column's sequence as exported (restored to at least max(column))."""

    column: str
    last_value: int | None


@dataclass(frozen=True)
class Part:
    """One table's rows: `columns` in COPY order, `rows` counted by COPY, `sha256` of the
    part's bytes in the archive."""

    table: str
    path: str
    columns: list[str]
    rows: int
    sha256: str
    sequences: list[Sequence] = field(default_factory=list)


@dataclass(frozen=True)
class MediaPart:
    """One stored object: `key` in the exporting installation's media store, `path` in
    the archive, `mime` to store it with again."""

    key: str
    path: str
    mime: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    chatcentral_version: str
    created_at: str
    slug: str
    phone_number_id: str
    plan: str
    tenant_revision: str
    central_revision: str | None
    tables: list[Part]  # tenant tables in dependency order (referenced tables first)
    central: list[Part]  # central.tenants (one row), central.monthly_usage
    pending_outbox_left: int = 0
    schema: str = ""  # empty in version 1 files: the slug's schema then
    media: list[MediaPart] = field(default_factory=list)
    media_missing: list[str] = field(default_factory=list)  # named by rows, not in the store
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise TransferError("not a chatcentral tenant export (manifest format)")
            if data.get("format_version") not in READABLE_VERSIONS:
                raise TransferError(
                    f"export format version {data.get('format_version')} is not supported "
                    f"(this chatcentral reads version {FORMAT_VERSION})"
                )
            data["tables"] = [_part(p) for p in data["tables"]]
            data["central"] = [_part(p) for p in data["central"]]
            data["media"] = [MediaPart(**p) for p in data.get("media", [])]
            return cls(**data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TransferError(f"the export's manifest is unreadable ({exc})") from None

    def parts(self) -> list[Part | MediaPart]:
        """Every part, in archive order."""
        return [*self.tables, *self.central, *self.media]

    def part(self, table: str) -> Part:
        for part in (*self.tables, *self.central):
            if part.table == table:
                return part
        raise TransferError(f"the export has no part for {table}")


def _part(data: dict[str, Any]) -> Part:
    data["sequences"] = [Sequence(**s) for s in data.get("sequences", [])]
    return Part(**data)


class PartWriter:
    """Collects parts in a temporary folder, then writes the archive atomically: the
    destination either does not change or holds a complete, fsync'd export."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        # Staged under numbers: a media key may hold any character a file name cannot.
        self._staged: dict[str, Path] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[_HashingFile]:
        staged = self._staged.setdefault(name, self._folder / f"{len(self._staged)}.part")
        with staged.open("wb") as raw:
            yield _HashingFile(raw)

    def write(self, destination: Path, manifest: Manifest) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
                    _add_bytes(tar, MANIFEST, manifest.to_json())
                    for part in manifest.parts():
                        tar.add(self._staged[part.path], arcname=part.path)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, destination)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _HashingFile:
    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)
        self._raw.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


_DAMAGED = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError)


class ExportReader:
    """An export opened for reading: manifest parsed, every part's sha256 checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise TransferError(f"{path}: no such file")
        try:
            self._tar = tarfile.open(path, mode="r:gz")  # noqa: SIM115 - closed by __exit__
        except _DAMAGED as exc:
            raise TransferError(f"{path} is not a chatcentral export ({_reason(exc)})") from None
        try:
            self.manifest = Manifest.from_json(self._read_all(MANIFEST))
            self._verify()
        except BaseException:
            self._tar.close()
            raise

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tar.close()

    def chunks(self, part: Part | MediaPart) -> Iterator[bytes]:
        """The part's bytes in chunks (already verified against the manifest)."""
        stream = self.open(part)
        while chunk := stream.read(_CHUNK):
            yield chunk

    def open(self, part: Part | MediaPart) -> IO[bytes]:
        """The part as a stream (already verified against the manifest)."""
        return self._member(part.path)

    def _verify(self) -> None:
        expected = {MANIFEST} | {p.path for p in self.manifest.parts()}
        try:
            names = set(self._tar.getnames())
            if names != expected:
                odd = sorted(names ^ expected)
                raise TransferError(f"{self.path}: parts do not match the manifest ({odd[0]})")
            for part in self.manifest.parts():
                digest = hashlib.sha256()
                for chunk in self.chunks(part):
                    digest.update(chunk)
                if digest.hexdigest() != part.sha256:
                    raise TransferError(
                        f"{self.path} is damaged: sha256 of {part.path} does not match its manifest"
                    )
        except _DAMAGED as exc:
            raise TransferError(f"{self.path} is damaged ({_reason(exc)})") from None

    def _member(self, name: str) -> IO[bytes]:
        stream = self._tar.extractfile(name)
        if stream is None:
            raise TransferError(f"{self.path}: {name} is not a file")
        return stream

    def _read_all(self, name: str) -> bytes:
        try:
            return self._member(name).read()
        except KeyError:
            raise TransferError(f"{self.path} has no {name}: not a chatcentral export") from None
        except _DAMAGED as exc:
            raise TransferError(f"{self.path} is damaged ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
