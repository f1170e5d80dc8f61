"""The pure pieces of keeping media: WhatsApp's limits, object keys, backoff, and the
signed links of the local store."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatcentral.media.limits import MAX_BYTES, backoff, bare, object_key, refusal
from chatcentral.media.links import Link, LinkSigner
from chatcentral.media.store import LocalStore, disposition


@pytest.mark.parametrize(
    ("kind", "mime", "size"),
    [
        ("image", "image/jpeg", 5 * 1024 * 1024),
        ("image", "image/png", 1),
        ("audio", "audio/ogg; codecs=opus", 16 * 1024 * 1024),
        ("video", "video/mp4", 10),
        ("document", "application/pdf", 100 * 1024 * 1024),
        ("document", "image/jpeg", 10),  # a receipt photo sent as a file
        ("sticker", "image/webp", 500 * 1024),
    ],
)
def test_what_whatsapp_allows_is_kept(kind: str, mime: str, size: int) -> None:
    assert refusal(kind, mime, size) is None


@pytest.mark.parametrize(
    ("kind", "mime", "size", "reason"),
    [
        ("image", "image/jpeg", 5 * 1024 * 1024 + 1, "larger than 5242880"),
        ("sticker", "image/webp", 500 * 1024 + 1, "larger than 512000"),
        ("image", "image/gif", 10, "image/gif is not allowed for image"),
        ("document", "text/html", 10, "text/html is not allowed for document"),
        ("document", "image/svg+xml", 10, "image/svg+xml is not allowed"),
        ("audio", None, 10, "audio without a MIME type"),
        ("location", "image/jpeg", 10, "location is not a media type"),
    ],
)
def test_what_whatsapp_does_not_allow_is_refused_with_the_reason(
    kind: str, mime: str | None, size: int, reason: str
) -> None:
    found = refusal(kind, mime, size)
    assert found is not None and reason in found


def test_limits_are_whatsapps() -> None:
    assert MAX_BYTES == {
        "image": 5 * 1024 * 1024,
        "video": 16 * 1024 * 1024,
        "audio": 16 * 1024 * 1024,
        "document": 100 * 1024 * 1024,
        "sticker": 500 * 1024,
    }
    assert bare("Audio/OGG; codecs=opus") == "audio/ogg"


def test_the_object_key_is_per_shop_and_month_named_by_message_and_hash() -> None:
    when = datetime(2026, 3, 9, 23, 59, tzinfo=UTC)
    sha = "ab" * 32
    assert object_key("tenant_tienda", 42, when, sha, "image/jpeg") == (
        "tenant_tienda/2026/03/42-abababababababab.jpg"
    )
    assert object_key("tenant_agua", 7, when, sha, "audio/ogg; codecs=opus").endswith(
        "7-" + sha[:16] + ".ogg"
    )
    assert object_key("tenant_agua", 7, when, sha, "application/x-unknown").endswith(sha[:16])


def test_backoff_doubles_from_30_seconds_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(8) == timedelta(hours=1)
    assert backoff(10_000) == timedelta(hours=1)  # no overflow however many tries


def test_a_signed_link_verifies_until_it_expires() -> None:
    signer = LinkSigner(b"secret")
    link = Link("tenant_tienda/2026/03/42-ab.pdf", "application/pdf", "Comprobante ñ.pdf", 1000)
    token = signer.sign(link)
    assert "/" not in token
    assert signer.verify(token, now=999) == link
    assert signer.verify(token, now=1000) is None  # expired
    assert LinkSigner(b"other secret").verify(token, now=0) is None


def test_an_altered_or_garbled_token_is_refused() -> None:
    signer = LinkSigner(b"secret")
    token = signer.sign(Link("tenant_a/x.jpg", "image/jpeg", None, 10_000))
    payload, mac = token.split(".")
    other = signer.sign(Link("tenant_b/x.jpg", "image/jpeg", None, 10_000)).split(".")[0]
    assert signer.verify(f"{other}.{mac}", now=0) is None  # someone else's key, my MAC
    for garbled in ("", ".", "abc", f"{payload}.", f"{payload}.!!", f"ñ.{mac}", token + "x"):
        assert signer.verify(garbled, now=0) is None


def test_the_local_store_refuses_keys_that_leave_its_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media", None)
    assert store.path("tenant_a/2026/01/1-ab.jpg") == (tmp_path / "media/tenant_a/2026/01/1-ab.jpg")
    for key in ("../secret", "tenant_a/../../etc/passwd", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            store.path(key)


async def test_the_local_store_round_trip_and_its_links(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, LinkSigner(b"k"), "https://bot.example.com/", clock=lambda: 100)
    await store.put("tenant_a/1.jpg", io.BytesIO(b"bytes"), "image/jpeg")
    await store.put("tenant_a/1.jpg", io.BytesIO(b"again"), "image/jpeg")  # replaced whole
    assert await store.get("tenant_a/1.jpg") == b"again"
    assert [p.name for p in (tmp_path / "tenant_a").iterdir()] == ["1.jpg"]  # no leftovers
    url = store.url("tenant_a/1.jpg", mime="image/jpeg", expires_s=60)
    assert url.startswith("https://bot.example.com/media/")
    token = url.rsplit("/", 1)[1]
    assert LinkSigner(b"k").verify(token, now=159) == Link(
        "tenant_a/1.jpg", "image/jpeg", None, 160
    )
    await store.delete("tenant_a/1.jpg")
    await store.delete("tenant_a/1.jpg")  # already gone: fine
    with pytest.raises(KeyError):
        await store.get("tenant_a/1.jpg")


def test_content_disposition_quotes_the_customers_file_name() -> None:
    assert disposition(None) == "inline"
    assert disposition('recibo "1".pdf') == "inline; filename*=UTF-8''recibo%20%221%22.pdf"
