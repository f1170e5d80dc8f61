"""Where media bytes are kept: an S3 bucket (any S3-compatible store through
AWS_ENDPOINT_URL) when CHATCENTRAL_S3_BUCKET is set, else files under the data dir.

boto3 is synchronous: its calls run in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

from chatcentral.config import ConfigError, Settings
from chatcentral.media.links import Link, LinkSigner

# The local store's links are served by the app under this path (app.py).
LOCAL_ROUTE = "/media"


class Store(Protocol):
    """Somewhere to put an object under a key and hand out short-lived links to it."""

    kind: str  # "s3" or "local", for logs and metrics

    async def put(self, key: str, content: IO[bytes], mime: str) -> None:
        """Store `content` (read from its current position) under `key`, replacing it."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes (KeyError when there is none)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether there is an object under `key`, without reading it."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix` (a folder, ending in `/`), sorted."""
        ...

    def url(self, key: str, *, mime: str, expires_s: int, filename: str | None = None) -> str:
        """A GET link to the object that stops working after `expires_s` seconds."""
        ...


class S3Store:
    kind = "s3"

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        assert settings.chatcentral_s3_bucket
        return cls(settings.chatcentral_s3_bucket, s3_client(settings))

    async def put(self, key: str, content: IO[bytes], mime: str) -> None:
        await asyncio.to_thread(
            self._client.upload_fileobj,
            content,
            self.bucket,
            key,
            ExtraArgs={"ContentType": mime},
        )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=key)
            except self._client.exceptions.NoSuchKey:
                raise KeyError(key) from None
            return bytes(answer["Body"].read())

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True

        return await asyncio.to_thread(head)

    async def keys(self, prefix: str) -> list[str]:
        def listed() -> list[str]:
            pages = self._client.get_paginator("list_objects_v2")
            found = pages.paginate(Bucket=self.bucket, Prefix=prefix)
            return sorted(item["Key"] for page in found for item in page.get("Contents", []))

        return await asyncio.to_thread(listed)

    def url(self, key: str, *, mime: str, expires_s: int, filename: str | None = None) -> str:
        # Signed locally: no request to S3 is made here.
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentType": mime,
            "ResponseContentDisposition": disposition(filename),
        }
        return str(
            self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        )


class LocalStore:
    """Files under `root` (CHATCENTRAL_DATA_DIR/media), written whole or not at all."""

    kind = "local"

    def __init__(
        self,
        root: Path,
        signer: LinkSigner | None,
        base_url: str = "",
        clock: Any = time.time,
    ) -> None:
        self.root = root
        self._signer = signer
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    def path(self, key: str) -> Path:
        """The file of `key`; a key that would leave the root is refused (ValueError)."""
        root = self.root.resolve()
        target = (root / key).resolve()
        if root not in target.parents:
            raise ValueError(f"media key outside the store: {key!r}")
        return target

    async def put(self, key: str, content: IO[bytes], mime: str) -> None:
        await asyncio.to_thread(self._write, self.path(key), content)

    @staticmethod
    def _write(target: Path, content: IO[bytes]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file beside the target, renamed over it: a reader never sees half.
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as sink:
                shutil.copyfileobj(content, sink)
            os.replace(name, target)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        target = self.path(key)
        try:
            return await asyncio.to_thread(target.read_bytes)
        except FileNotFoundError:
            raise KeyError(key) from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def keys(self, prefix: str) -> list[str]:
        def listed() -> list[str]:
            folder = self.path(prefix.rstrip("/"))
            if not folder.is_dir():
                return []
            root = self.root.resolve()
            return sorted(
                path.relative_to(root).as_posix() for path in folder.rglob("*") if path.is_file()
            )

        return await asyncio.to_thread(listed)

    def url(self, key: str, *, mime: str, expires_s: int, filename: str | None = None) -> str:
        if self._signer is None:
            raise ConfigError(
                "set CHATCENTRAL_MEDIA_LINK_SECRET (or WHATSAPP_APP_SECRET) to link to media"
            )
        expires_at = int(self._clock()) + expires_s
        token = self._signer.sign(Link(key, mime, filename, expires_at))
        return f"{self._base_url}{LOCAL_ROUTE}/{token}"

    def signer(self) -> LinkSigner | None:
        return self._signer


def disposition(filename: str | None) -> str:
    """Shown in the browser, under its own name when it has one (RFC 6266/5987)."""
    if not filename:
        return "inline"
    return f"inline; filename*=UTF-8''{quote(filename, safe='')}"


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client from the settings (region, endpoint, keys when given; otherwise
    boto3's own chain: environment, profile, instance role)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "region_name": settings.aws_region,
        "endpoint_url": settings.aws_endpoint_url,
        # Path-style addressing for S3-compatible endpoints (MinIO, Ceph, moto), which
        # rarely serve bucket subdomains; AWS itself takes either.
        "config": Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.aws_endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    }
    if settings.aws_access_key_id is not None and settings.aws_secret_access_key is not None:
        options["aws_access_key_id"] = settings.aws_access_key_id.get_secret_value()
        options["aws_secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
    return boto3.client("s3", **options)


def link_secret(settings: Settings) -> bytes | None:
    """What signs local media links: CHATCENTRAL_MEDIA_LINK_SECRET, else a key derived
    from WHATSAPP_APP_SECRET (so a development set-up works without one more secret)."""
    if settings.chatcentral_media_link_secret is not None:
        return settings.chatcentral_media_link_secret.get_secret_value().encode()
    if settings.whatsapp_app_secret is not None:
        app_secret = settings.whatsapp_app_secret.get_secret_value().encode()
        return hmac.new(app_secret, b"chatcentral media link secret", hashlib.sha256).digest()
    return None


def make_store(settings: Settings) -> Store:
    """S3 when a bucket is configured, otherwise the data dir."""
    if settings.chatcentral_s3_bucket:
        return S3Store.from_settings(settings)
    secret = link_secret(settings)
    return LocalStore(
        settings.chatcentral_data_dir / "media",
        LinkSigner(secret) if secret else None,
        settings.chatcentral_public_url or "",
    )
