"""Signed, expiring links to media kept in the local store, served by the app itself at
`GET /media/{token}` (S3 gives presigned URLs of its own; see `store.S3Store.url`).

A token is the object's key, its MIME type, an optional file name and an expiry time,
as base64url JSON, followed by an HMAC-SHA256 of those bytes: nothing is kept on the
server, and a token cannot be altered or used after it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

_CONTEXT = b"chatcentral media links v1"


@dataclass(frozen=True)
class Link:
    key: str
    mime: str
    filename: str | None
    expires_at: int  # Unix seconds


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a media link secret must not be empty")
        # A key of its own, derived from the secret: the same secret may sign other things.
        self._key = hmac.new(secret, _CONTEXT, hashlib.sha256).digest()

    def sign(self, link: Link) -> str:
        fields = {"k": link.key, "m": link.mime, "e": link.expires_at}
        if link.filename:
            fields["f"] = link.filename
        payload = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: float) -> Link | None:
        """The link a token stands for, or None when it is forged, altered or expired."""
        payload, _, mac = token.partition(".")
        try:
            given = _unb64(mac)
            if not hmac.compare_digest(given, self._mac(payload)):
                return None
            fields = json.loads(_unb64(payload))
            link = Link(
                key=str(fields["k"]),
                mime=str(fields["m"]),
                filename=str(fields["f"]) if fields.get("f") else None,
                expires_at=int(fields["e"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        return link if link.expires_at > now else None

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
