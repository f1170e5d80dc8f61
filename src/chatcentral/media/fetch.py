"""One inbound media, from its id to bytes in a file, through the Graph client:
GET /{media_id} → a URL that lives about five minutes → GET it with the same token.

The URL is always asked for anew (the one some webhooks carry may be stale by the time
the worker runs); a download answered 404 (an expired URL) gets one more fresh URL at
once. Type and size are checked against WhatsApp's limits before and while the bytes
arrive, so a refused file is never read whole.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import IO

from chatcentral.media.limits import MAX_BYTES, bare, refusal
from chatcentral.whatsapp.graph import GraphClient, MediaFailure, SendFailure, Verdict

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    mime: str  # bare MIME type: "audio/ogg", not "audio/ogg; codecs=opus"
    size: int
    sha256: str  # hex
    # The hash Meta announced in the webhook (base64) matched what arrived; None when
    # there was none to compare.
    matches_declared: bool | None


async def fetch(
    graph: GraphClient,
    media_id: str,
    token: str,
    kind: str,
    sink: IO[bytes],
    *,
    declared_mime: str | None = None,
    declared_sha256: str | None = None,
) -> Fetched:
    """Download media `media_id` of message type `kind` into `sink` (empty, seekable).
    Raises `MediaFailure`: RETRY for what may work later, PERMANENT for a refusal."""
    url, mime = await _locate(graph, media_id, token, kind, declared_mime)
    try:
        await graph.download(url, token, sink, limit=MAX_BYTES[kind])
    except MediaFailure as failure:
        if failure.failure.http_status != 404 or failure.failure.verdict is not Verdict.RETRY:
            raise
        # Expired between the two calls (or a slow queue): a new URL, once, right away.
        sink.seek(0)
        sink.truncate()
        url, mime = await _locate(graph, media_id, token, kind, declared_mime)
        await graph.download(url, token, sink, limit=MAX_BYTES[kind])
    size = sink.tell()
    digest = _sha256(sink)
    return Fetched(
        mime=bare(mime),
        size=size,
        sha256=digest.hex(),
        matches_declared=_matches(digest, declared_sha256),
    )


async def _locate(
    graph: GraphClient, media_id: str, token: str, kind: str, declared_mime: str | None
) -> tuple[str, str]:
    """A fresh download URL and the media's type (Graph's, else the webhook's), refused
    (`MediaFailure`, PERMANENT) when WhatsApp's limits do not allow that type."""
    url, mime = await graph.media_url(media_id, token)
    mime = mime or declared_mime
    reason = refusal(kind, mime)
    if reason is not None:
        raise MediaFailure(SendFailure(Verdict.PERMANENT, f"refused: {reason}"))
    assert mime is not None  # refusal() refuses media without a type
    return url, mime


def _sha256(sink: IO[bytes]) -> bytes:
    sink.seek(0)
    digest = hashlib.sha256()
    while chunk := sink.read(_CHUNK):
        digest.update(chunk)
    sink.seek(0)
    return digest.digest()


def _matches(digest: bytes, declared: str | None) -> bool | None:
    """Meta's webhooks carry the SHA-256 as base64; hex is accepted too."""
    if not declared:
        return None
    try:
        if len(declared) == 64:
            return bytes.fromhex(declared) == digest
        return base64.b64decode(declared, validate=True) == digest
    except (ValueError, binascii.Error):
        return False
