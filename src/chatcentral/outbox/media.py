"""Media a customer sent, relayed as media: the outbox kind `relay_media`.

The Cloud API sends media by an id *uploaded by the business*; the id of a photo a
customer sent cannot be sent on. So a relayed photo is queued with the customer's media
id, and at send time the dispatcher downloads it (GET /{media_id} → a URL valid five
minutes → the bytes, with the shop's token) and uploads it to the shop's number (POST
/{phone_number_id}/media), then sends the message with the new id. Doing it at send time
keeps HTTP out of the webhook's transaction, retries it like any send, and never stores
the bytes: they pass through a temporary file (in memory while small).

An upload serves for 30 days, so the new id is remembered for a while: the same photo
relayed to three admins is moved once.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from chatcentral.metrics import MEDIA_TRANSFERS
from chatcentral.whatsapp.graph import GraphClient, MediaFailure, SendFailure, Verdict

RELAY_MEDIA = "relay_media"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# WhatsApp's outbound limits (whatsapp-cloud-api.md §11); a document may be 100 MB.
MAX_BYTES = {
    "image": 5 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "document": 100 * 1024 * 1024,
    "sticker": 500 * 1024,
}
SPOOL_BYTES = 8 * 1024 * 1024  # kept in memory up to this size, then in a temporary file
REMEMBER_S = 24 * 3600.0  # well within the 30 days an uploaded id lives
REMEMBER_MAX = 1024
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "application/pdf": ".pdf",
}


class MediaRelay:
    """Turns a `relay_media` payload (the customer's media id) into one Meta will send."""

    def __init__(self, graph: GraphClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._graph = graph
        self._clock = clock
        self._uploaded: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    async def prepared(
        self, phone_number_id: str, token: str, payload: dict[str, Any]
    ) -> dict[str, Any] | SendFailure:
        """The payload with the media re-uploaded to the shop's number, or why not."""
        kind = payload.get("type")
        if kind not in MEDIA_TYPES:
            return payload  # its template fallback (a closed window) took its place: as is
        media = payload.get(str(kind))
        if not isinstance(media, dict) or not media.get("id"):
            return SendFailure(Verdict.PERMANENT, f"{RELAY_MEDIA} payload without a {kind} id")
        try:
            new_id = await self._uploaded_id(phone_number_id, token, str(kind), media)
        except MediaFailure as failure:
            MEDIA_TRANSFERS.labels(outcome="failed").inc()
            return failure.failure
        sendable = copy.deepcopy(payload)
        sendable[kind]["id"] = new_id
        return sendable

    async def _uploaded_id(
        self, phone_number_id: str, token: str, kind: str, media: dict[str, Any]
    ) -> str:
        key = (phone_number_id, str(media["id"]))
        remembered = self._uploaded.get(key)
        if remembered is not None and remembered[0] > self._clock():
            self._uploaded.move_to_end(key)
            MEDIA_TRANSFERS.labels(outcome="reused").inc()
            return remembered[1]
        url, mime = await self._graph.media_url(str(media["id"]), token)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as sink:
            content_type = await self._graph.download(url, token, sink, limit=MAX_BYTES[kind])
            sink.seek(0)
            mime_type = _bare(mime or content_type or "application/octet-stream")
            filename = str(media.get("filename") or f"{kind}{_EXTENSIONS.get(mime_type, '')}")
            new_id = await self._graph.upload_media(
                phone_number_id, token, sink, mime_type, filename
            )
        MEDIA_TRANSFERS.labels(outcome="moved").inc()
        self._uploaded[key] = (self._clock() + REMEMBER_S, new_id)
        while len(self._uploaded) > REMEMBER_MAX:
            self._uploaded.popitem(last=False)
        return new_id


def _bare(mime: str) -> str:
    """ "audio/ogg; codecs=opus" → "audio/ogg": the upload's `type` takes the bare type."""
    return mime.split(";", 1)[0].strip().lower()
