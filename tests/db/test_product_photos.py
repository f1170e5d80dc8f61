"""Product photos against real components: the panel's photo page (upload, replace,
remove, the image served same-origin) with moto's S3 server as the media store, and the
dispatcher sending a product's message with an image header whose link gives the photo."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.config import Settings
from chatcentral.media.store import Store, make_store
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, accepted
from tests.support.conversation import Customer
from tests.support.images import JPEG, png
from tests.support.panel import sign_in
from tests.support.photos import give_photo
from tests.support.s3 import moto_s3, objects, with_bucket

__all__ = ["moto_s3"]  # the fixture, for this module's tests

PHOTO = png()


@pytest.fixture
def settings(settings: Settings, moto_s3: str) -> Settings:
    """This module's app keeps media in a fresh bucket of moto's S3 server."""
    return with_bucket(settings, moto_s3)


def image_key(engine: Engine, schema: str, product_id: int) -> str | None:
    with engine.connect() as conn:
        key = conn.execute(
            text(f"SELECT image_key FROM {schema}.products WHERE id = :p"), {"p": product_id}
        ).scalar_one()
    return None if key is None else str(key)


def first_in_catalog(engine: Engine, schema: str) -> int:
    """The first active product of the first category the catalog shows."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    f"SELECT p.id FROM {schema}.products p JOIN {schema}.categories c "
                    "ON c.id = p.category_id WHERE p.active AND c.active "
                    "ORDER BY c.position, c.id, p.position, p.id LIMIT 1"
                )
            ).scalar_one()
        )


THEIR_PHOTO = "products/tenant_agua/900001/theirs.png"


def other_shops_product(engine: Engine, schema: str) -> int:
    """A product with a photo in the other shop, under an id the first shop does not use."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    f"INSERT INTO {schema}.products (id, category_id, name, price, unit, "
                    "image_key) SELECT 900001, min(id), 'Garrafón de otra tienda', 40, 'PIECE', "
                    f":key FROM {schema}.categories RETURNING id"
                ),
                {"key": THEIR_PHOTO},
            ).scalar_one()
        )


async def upload(
    browser: httpx.AsyncClient,
    product_id: int,
    csrf: str,
    data: bytes,
    mime: str = "image/png",
    name: str = "foto.png",
) -> httpx.Response:
    return await browser.post(
        f"/panel/products/{product_id}/photo",
        data={"csrf": csrf},
        files={"photo": (name, data, mime)},
    )


async def test_an_uploaded_photo_is_stored_named_and_shown(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
) -> None:
    schema = shops["grocery"].schema
    product = first_in_catalog(sync_engine, schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    empty = await browser.get(f"/panel/products/{product}/photo")
    assert empty.status_code == 200 and "aún no tiene foto" in empty.text
    assert "Quitar foto" not in empty.text

    sent = await upload(browser, product, csrf, PHOTO)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/panel/products/{product}/photo?ok=saved"
    key = image_key(sync_engine, schema, product)
    assert key is not None and key.startswith(f"products/{schema}/{product}/")
    assert key.endswith(".png")
    assert objects(settings) == {key: PHOTO}

    shown = await browser.get(sent.headers["location"])
    assert "ya sale en WhatsApp" in shown.text and "Quitar foto" in shown.text
    assert f'src="/panel/products/{product}/photo.img?v=' in shown.text
    image = await browser.get(f"/panel/products/{product}/photo.img")
    assert image.status_code == 200 and image.content == PHOTO
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"


async def test_a_new_photo_replaces_the_old_one_and_removing_deletes_it(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
) -> None:
    schema = shops["grocery"].schema
    product = first_in_catalog(sync_engine, schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    await upload(browser, product, csrf, PHOTO)
    first = image_key(sync_engine, schema, product)
    replaced = await upload(browser, product, csrf, JPEG, "image/jpeg", "foto.jpg")
    assert replaced.status_code == 303
    second = image_key(sync_engine, schema, product)
    assert second is not None and second != first and second.endswith(".jpg")
    assert objects(settings) == {second: JPEG}  # the old one is gone

    removed = await browser.post(f"/panel/products/{product}/photo/remove", data={"csrf": csrf})
    assert removed.status_code == 303 and removed.headers["location"].endswith("?ok=removed")
    assert image_key(sync_engine, schema, product) is None
    assert objects(settings) == {}
    assert (await browser.get(f"/panel/products/{product}/photo.img")).status_code == 404


@pytest.mark.parametrize(
    ("data", "mime", "says"),
    [
        (b"GIF89a" + b"\x00" * 64, "image/gif", "no es JPG ni PNG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png", "no es JPG ni PNG"),
        (b"", "image/png", "Elige una foto"),
    ],
)
async def test_what_is_not_a_photo_is_refused_and_nothing_stored(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
    data: bytes,
    mime: str,
    says: str,
) -> None:
    schema = shops["grocery"].schema
    product = first_in_catalog(sync_engine, schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    refused = await upload(browser, product, csrf, data, mime)
    assert refused.status_code == 422 and says in refused.text
    assert image_key(sync_engine, schema, product) is None
    assert objects(settings) == {}


async def test_a_photo_over_5_mb_is_refused_and_nothing_stored(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
) -> None:
    schema = shops["grocery"].schema
    product = first_in_catalog(sync_engine, schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    big = PHOTO + b"\x00" * (5 * 1024 * 1024)
    refused = await upload(browser, product, csrf, big)
    # The form itself is over the panel's upload limit: unread, so refused as a whole.
    assert refused.status_code == 403
    assert image_key(sync_engine, schema, product) is None
    assert objects(settings) == {}


async def test_another_shops_product_is_404_and_a_post_needs_the_csrf_token(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
) -> None:
    water = shops["water"].schema
    theirs = other_shops_product(sync_engine, water)
    mine = first_in_catalog(sync_engine, shops["grocery"].schema)
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    for product in (theirs, theirs + 1):  # another shop's, and nobody's
        assert (await browser.get(f"/panel/products/{product}/photo")).status_code == 404
        assert (await browser.get(f"/panel/products/{product}/photo.img")).status_code == 404
        assert (await upload(browser, product, csrf, PHOTO)).status_code == 404
        removed = await browser.post(f"/panel/products/{product}/photo/remove", data={"csrf": csrf})
        assert removed.status_code == 404
    huge = await browser.get(f"/panel/products/{2**63}/photo")
    assert huge.status_code == 404
    forged = await upload(browser, mine, "not-the-token", PHOTO)
    assert forged.status_code == 403
    assert image_key(sync_engine, shops["grocery"].schema, mine) is None
    assert image_key(sync_engine, water, theirs) == THEIR_PHOTO
    assert objects(settings) == {}


async def test_the_s3_store_tells_whether_a_photo_is_there(settings: Settings) -> None:
    store = make_store(settings)
    assert not await store.exists("products/tenant_tienda/1/none.png")
    await store.put("products/tenant_tienda/1/a.png", io.BytesIO(PHOTO), "image/png")
    assert await store.exists("products/tenant_tienda/1/a.png")
    await store.delete("products/tenant_tienda/1/a.png")
    assert not await store.exists("products/tenant_tienda/1/a.png")


# --- sent on WhatsApp ---------------------------------------------------------------------


async def open_product(client: httpx.AsyncClient, engine: Engine, product_name: str) -> None:
    """A customer goes to the catalog's first category and opens `product_name`."""
    ana = Customer(client, engine, "1110001")
    await ana.says("hola")
    await ana.taps(1)  # Ver catálogo
    await ana.taps(1)  # the first category
    await ana.taps(ana.option_titles().index(product_name) + 1)


def product_name(engine: Engine, schema: str, product: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text(f"SELECT name FROM {schema}.products WHERE id = :p"), {"p": product}
            ).scalar_one()
        )


def fetch(link: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(link) as answer:  # noqa: S310 - moto on 127.0.0.1
        return answer.read(), answer.headers["Content-Type"]


async def send_all(engine: AsyncEngine, settings: Settings, store: Store) -> None:
    """Send everything queued, by a dispatcher with this media store."""
    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    outbox = Dispatcher(engine, graph, settings, store=store)
    try:
        while await outbox.dispatch_once():
            pass
    finally:
        await outbox.aclose()
        await graph.aclose()


def sent_messages(route: respx.Route) -> list[dict[str, Any]]:
    bodies = [json.loads(call.request.content) for call in route.calls]
    return [body for body in bodies if body.get("status") != "read"]


def ok(request: httpx.Request) -> httpx.Response:
    return accepted(f"wamid.{len(request.content)}.{id(request)}")


@respx.mock
async def test_the_dispatcher_sends_a_products_photo_as_a_link_that_gives_it(
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
) -> None:
    client, _ = app_client
    schema = shops["grocery"].schema
    product = first_in_catalog(sync_engine, schema)
    store = make_store(settings)
    key = await give_photo(async_engine, store, shops["grocery"].id, schema, PHOTO, product)
    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=ok)
    await open_product(client, sync_engine, product_name(sync_engine, schema, product))

    await send_all(async_engine, settings, store)
    detail = sent_messages(route)[-1]
    interactive = detail["interactive"]
    assert interactive["type"] == "button"
    header = interactive["header"]
    assert header["type"] == "image" and list(header["image"]) == ["link"]
    link = header["image"]["link"]
    assert link.startswith(str(settings.aws_endpoint_url)) and "Expires=3600" in link
    # Fetched as Meta would, outside respx (which answers every httpx call here).
    assert await asyncio.to_thread(fetch, link) == (PHOTO, "image/png")
    # What the shop's history keeps names the photo, never a link that will expire.
    with sync_engine.connect() as conn:
        kept = conn.execute(
            text(
                f"SELECT body FROM {schema}.messages WHERE direction = 'out' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).scalar_one()
    assert kept["interactive"]["header"]["image"] == {"stored_key": key}


@respx.mock
async def test_with_no_public_link_the_product_goes_without_its_photo(
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
) -> None:
    client, _ = app_client
    schema = shops["grocery"].schema
    product = first_in_catalog(sync_engine, schema)
    await give_photo(
        async_engine, make_store(settings), shops["grocery"].id, schema, PHOTO, product
    )
    route = respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=ok)
    await open_product(client, sync_engine, product_name(sync_engine, schema, product))

    # The data dir, and no CHATCENTRAL_PUBLIC_URL: no link Meta could fetch.
    local = settings.model_copy(update={"chatcentral_s3_bucket": None})
    await send_all(async_engine, local, make_store(local))
    detail = sent_messages(route)[-1]
    assert detail["interactive"]["type"] == "button"
    assert "header" not in detail["interactive"]
    assert [b["reply"]["id"] for b in detail["interactive"]["action"]["buttons"]] == [
        "product:add",
        "nav:products",
        "nav:cart",
    ]
