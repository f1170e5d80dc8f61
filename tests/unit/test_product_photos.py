"""Product photos without I/O: the checks on an upload, the view that marks a product's
message as wanting its photo, and the builder that turns the mark into a link (or drops
it) at send time."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from chatcentral.config import ConfigError
from chatcentral.conversation.context import Context
from chatcentral.conversation.facts import Catalog, Category
from chatcentral.conversation.views import VIEWS
from chatcentral.media.links import LinkSigner
from chatcentral.media.store import LocalStore
from chatcentral.products.photos import (
    PHOTO_MAX,
    PhotoRefused,
    key_mime,
    photo_key,
    photo_mime,
    send_link,
)
from chatcentral.simulator.render import render
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import Button, OutboundError
from tests.support.engine_kit import APPLES, WATER, conversation, facts

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 100
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x02" * 100
KEY = "products/tenant_tienda/1/abc.jpg"


def detail(apples_key: str | None) -> dict[str, object]:
    apples = dataclasses.replace(APPLES, image_key=apples_key)
    catalog = Catalog((Category(1, "Frutas"), Category(2, "Abarrotes")), (apples, WATER))
    convo = conversation("product_detail", Context(product_id=apples.id), the_facts=facts(catalog))
    (message,) = VIEWS["product_detail"](convo)
    return message


def test_a_product_with_a_photo_marks_its_message_for_it() -> None:
    message = detail(KEY)
    assert message["interactive"]["header"] == {
        "type": "image",
        "image": {outbound.STORED_KEY: KEY},
    }
    assert outbound.stored_image(outbound.envelope(message, to="525512345678")) == KEY
    assert render(message).options  # still the same three buttons


def test_a_product_without_a_photo_has_no_header() -> None:
    message = detail(None)
    assert "header" not in message["interactive"]
    assert outbound.stored_image(message) is None


def test_the_mark_becomes_a_link_at_send_time_or_goes() -> None:
    body = outbound.envelope(detail(KEY), to="525512345678")
    linked = outbound.with_image_link(body, "https://bucket.example/photo?sig=1")
    assert linked["interactive"]["header"] == {
        "type": "image",
        "image": {"link": "https://bucket.example/photo?sig=1"},
    }
    assert list(linked["interactive"]) == ["type", "header", "body", "action"]
    assert linked["to"] == "+525512345678"
    assert outbound.stored_image(linked) is None
    bare = outbound.with_image_link(body, None)
    assert "header" not in bare["interactive"]
    assert bare["interactive"]["body"] == body["interactive"]["body"]
    assert outbound.stored_image(body) == KEY  # the queued payload is left as it was


def test_an_image_header_names_exactly_one_source() -> None:
    buttons = [Button("a", "A")]
    with pytest.raises(OutboundError):
        outbound.reply_buttons("Hola", buttons, header="Título", image_key=KEY)
    with pytest.raises(OutboundError):
        outbound.reply_buttons("Hola", buttons, image_key=" ")
    message = outbound.reply_buttons("Hola", buttons, image_key=KEY)
    message["interactive"]["header"]["image"]["link"] = "https://x.example/a.jpg"
    with pytest.raises(OutboundError, match="exactly one"):
        outbound.validate(message)


@pytest.mark.parametrize(
    ("data", "declared", "mime"),
    [
        (JPEG, "image/jpeg", "image/jpeg"),
        (PNG, "image/png", "image/png"),
        (PNG, "", "image/png"),
        (JPEG, "application/octet-stream", "image/jpeg"),
    ],
)
def test_jpeg_and_png_are_known_by_their_bytes(data: bytes, declared: str, mime: str) -> None:
    assert photo_mime(data, declared) == mime


@pytest.mark.parametrize(
    ("data", "declared", "reason"),
    [
        (b"", "image/jpeg", "empty"),
        (b"GIF89a" + b"\x00" * 50, "image/gif", "not_image"),
        (b"<svg onload=alert(1)>", "image/png", "not_image"),
        (PNG, "image/jpeg", "mismatch"),
        (JPEG + b"\x00" * PHOTO_MAX, "image/jpeg", "too_large"),
    ],
)
def test_anything_else_is_refused(data: bytes, declared: str, reason: str) -> None:
    with pytest.raises(PhotoRefused) as refused:
        photo_mime(data, declared)
    assert refused.value.reason == reason


def test_keys_are_per_shop_product_and_content() -> None:
    shop = conversation().shop
    other = dataclasses.replace(shop, schema="tenant_otra")
    key = photo_key(shop, 7, JPEG, "image/jpeg")
    assert key.startswith(f"products/{shop.schema}/7/") and key.endswith(".jpg")
    assert photo_key(other, 7, JPEG, "image/jpeg") != key
    assert photo_key(shop, 7, PNG, "image/png").endswith(".png")
    assert key_mime(key) == "image/jpeg"


async def test_a_link_meta_can_reach_or_none(tmp_path: Path) -> None:
    signer = LinkSigner(b"secret")
    public = LocalStore(tmp_path, signer, "https://shop.example")
    assert await send_link(public, KEY) is None  # no such photo (any more)
    await public.put(KEY, io.BytesIO(JPEG), "image/jpeg")
    assert str(await send_link(public, KEY)).startswith("https://shop.example/media/")
    assert await send_link(LocalStore(tmp_path, signer, ""), KEY) is None  # relative
    unsigned = LocalStore(tmp_path, None, "https://shop.example")
    with pytest.raises(ConfigError):
        unsigned.url(KEY, mime="image/jpeg", expires_s=60)
    assert await send_link(unsigned, KEY) is None
