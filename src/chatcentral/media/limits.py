"""WhatsApp's media limits and the names under which media are stored (no I/O).

The limits are Meta's for media on the Cloud API (whatsapp-cloud-api.md §11): image 5 MB
(JPEG, PNG), video and audio 16 MB, document 100 MB, sticker 100 KB static / 500 KB
animated (WebP). Inbound media over 100 MB never reach us (Meta sends error 131052). The
MIME types are the ones Meta lists as supported; anything else is refused rather than
stored and later handed to staff (an HTML or SVG "document" served back from our own
origin would be a script in the staff's browser).
"""

from __future__ import annotations

from datetime import datetime, timedelta

MB = 1024 * 1024
KB = 1024

# Message types whose media are fetched and kept (sticker included: the same shape).
MEDIA_TYPES: tuple[str, ...] = ("image", "video", "audio", "document", "sticker")

MAX_BYTES: dict[str, int] = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "document": 100 * MB,
    "sticker": 500 * KB,  # animated; a static one is at most 100 KB
}

_IMAGES = frozenset({"image/jpeg", "image/png"})
ALLOWED_MIME: dict[str, frozenset[str]] = {
    "image": _IMAGES,
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
    # Meta's document types, and photos sent "as a document" (receipts often are).
    "document": frozenset(
        {
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
        | _IMAGES
    ),
    "sticker": frozenset({"image/webp"}),
}

EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}

# Retries: 30 s doubling to an hour. Media ids live 7 days, so even the last of the
# default 8 attempts (about 2 hours after the first) is well inside that.
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def bare(mime: str) -> str:
    """ "audio/ogg; codecs=opus" → "audio/ogg"."""
    return mime.split(";", 1)[0].strip().lower()


def refusal(kind: str, mime: str | None, size: int | None = None) -> str | None:
    """Why media of this kind, type and size cannot be kept, or None when they can."""
    if kind not in MAX_BYTES:
        return f"{kind} is not a media type"
    if not mime:
        return f"{kind} without a MIME type"
    if bare(mime) not in ALLOWED_MIME[kind]:
        return f"MIME type {bare(mime)} is not allowed for {kind}"
    if size is not None and size > MAX_BYTES[kind]:
        return f"{kind} of {size} bytes is larger than {MAX_BYTES[kind]}"
    return None


def object_key(schema: str, message_id: int, created_at: datetime, sha256: str, mime: str) -> str:
    """Where one message's media is stored: under its shop (one prefix per shop, to export,
    purge or delete a shop's media alone), by month, named by the message and the first
    bytes of its hash (a retry of the same download writes the same key)."""
    extension = EXTENSIONS.get(bare(mime), "")
    return f"{schema}/{created_at:%Y/%m}/{message_id}-{sha256[:16]}{extension}"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try (1, 2, …)."""
    delay = BACKOFF_FIRST * (1 << min(max(attempts - 1, 0), 16))
    return min(delay, BACKOFF_CAP)
