"""A product's photo: uploaded by the shop (panel or API), kept in the media store, and
shown as the image header of the product's message on WhatsApp.

Only what WhatsApp sends as an image is taken: JPEG or PNG by their first bytes (the
declared type is not trusted), at most 5 MB. Each photo is stored under a key of its own
shop, product and content (`products/<schema>/<id>/<sha256>.<ext>`), so two shops never
share a key and a replaced photo is a new object, never one rewritten under a link
already handed out. `products.image_key` names it; the type follows from the extension.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

from sqlalchemy import BigInteger, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.config import ConfigError
from chatcentral.conversation.shop import Shop
from chatcentral.media.limits import MAX_BYTES
from chatcentral.media.store import Store
from chatcentral.models.tenant import Product

log = logging.getLogger(__name__)

PHOTO_MAX = MAX_BYTES["image"]
# Long enough for Meta to fetch the photo however late a retried send goes out (it
# fetches when it accepts the message, and caches the asset for 10 minutes).
SEND_LINK_S = 3600
_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
_MIMES = {extension: mime for mime, extension in _EXTENSIONS.items()}

_PRODUCT_ID = bindparam("product_id", type_=BigInteger)
_CURRENT = select(Product.image_key).where(Product.id == _PRODUCT_ID).with_for_update()
_SHOWN = select(Product.id, Product.name, Product.image_key).where(Product.id == _PRODUCT_ID)


class PhotoRefused(ValueError):
    """Not a photo WhatsApp would send; `reason` is one of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(REASONS[reason])
        self.reason = reason


# Why, in English for the API (the panel says it in Spanish: panel/photos.py).
REASONS = {
    "empty": "the photo is empty",
    "not_image": "the photo must be a JPEG or PNG image",
    "mismatch": "the declared type does not match the image's content",
    "too_large": f"the photo is larger than {PHOTO_MAX // (1024 * 1024)} MB",
}


@dataclass(frozen=True)
class ProductPhoto:
    """A product as its photo page shows it."""

    id: int
    name: str
    image_key: str | None


def photo_mime(data: bytes, declared: str = "") -> str:
    """The photo's type by its content: image/jpeg or image/png (PhotoRefused otherwise,
    or when a JPEG or PNG type was declared for the other one)."""
    if not data:
        raise PhotoRefused("empty")
    if len(data) > PHOTO_MAX:
        raise PhotoRefused("too_large")
    mime = next((m for magic, m in _SIGNATURES.items() if data.startswith(magic)), None)
    if mime is None:
        raise PhotoRefused("not_image")
    stated = declared.split(";", 1)[0].strip().lower()
    if stated in _EXTENSIONS and stated != mime:
        raise PhotoRefused("mismatch")
    return mime


def key_mime(key: str) -> str:
    return _MIMES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


def photos_prefix(schema: str) -> str:
    """Where the photos of the shop with this schema are kept (its export and delete
    find them there: tenancy/transfer/media.py)."""
    return f"products/{schema}/"


def photo_key(shop: Shop, product_id: int, data: bytes, mime: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{photos_prefix(shop.schema)}{product_id}/{digest}.{_EXTENSIONS[mime]}"


async def product_photo(conn: AsyncConnection, product_id: int) -> ProductPhoto | None:
    """The product of this id in the connection's shop, or None."""
    row = (await conn.execute(_SHOWN, {"product_id": product_id})).first()
    return None if row is None else ProductPhoto(row.id, row.name, row.image_key)


async def attach_photo(
    conn: AsyncConnection,
    store: Store,
    shop: Shop,
    product_id: int,
    data: bytes,
    content_type: str,
) -> str | None:
    """Make `data` the product's photo, in the caller's transaction: checked, stored,
    named in `products.image_key`, the previous one deleted. Returns the new key, or None
    when the shop has no such product (nothing stored). Raises PhotoRefused."""
    mime = photo_mime(data, content_type)
    found = (await conn.execute(_CURRENT, {"product_id": product_id})).first()
    if found is None:
        return None
    key = photo_key(shop, product_id, data, mime)
    # Stored before the row names it: a failure in between leaves an unnamed object at
    # worst, never a product naming a photo that is not there.
    await store.put(key, io.BytesIO(data), mime)
    await _name(conn, product_id, key)
    if found.image_key and found.image_key != key:
        await store.delete(found.image_key)
    return key


async def remove_photo(conn: AsyncConnection, store: Store, product_id: int) -> bool:
    """Forget the product's photo and delete it; False when there is no such product."""
    found = (await conn.execute(_CURRENT, {"product_id": product_id})).first()
    if found is None:
        return False
    if found.image_key:
        await _name(conn, product_id, None)
        await store.delete(found.image_key)
    return True


async def _name(conn: AsyncConnection, product_id: int, key: str | None) -> None:
    await conn.execute(
        update(Product)
        .where(Product.id == _PRODUCT_ID)
        .values(image_key=key, updated_at=func.now()),
        {"product_id": product_id},
    )


async def send_link(store: Store, key: str) -> str | None:
    """A link Meta can fetch the photo from for the next hour: S3 presigned, or the app's
    signed /media link under CHATCENTRAL_PUBLIC_URL. None when the store cannot make one
    that reaches this app from outside (no public URL, or no link secret), or when the
    photo is gone: a catalog cached for a few seconds more may still name a replaced one,
    and Meta would fail the whole message on a link that finds nothing."""
    try:
        link = store.url(key, mime=key_mime(key), expires_s=SEND_LINK_S)
    except ConfigError:
        return None
    if not link.startswith(("https://", "http://")):
        return None
    try:
        there = await store.exists(key)
    except Exception:  # the store is away: Meta could not fetch it either
        log.warning("product photo %s: the media store did not answer", key, exc_info=True)
        return None
    return link if there else None
