"""A product's photo through the admin API: PUT the raw image, DELETE it; stored in
moto's S3 server, checked by its content, another shop's product not found."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from chatcentral.config import Settings
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, assert_problem, rows
from tests.db.test_product_photos import THEIR_PHOTO, image_key, other_shops_product
from tests.support.images import JPEG, png
from tests.support.s3 import moto_s3, objects, with_bucket

__all__ = ["moto_s3"]  # the fixture, for this module's tests

PHOTO = png()
SCHEMA = "tenant_tienda"


@pytest.fixture
def settings(settings: Settings, moto_s3: str) -> Settings:
    return with_bucket(settings, moto_s3)


async def test_a_photo_is_put_replaced_and_deleted(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine, settings: Settings
) -> None:
    assert (await api.get("/products/1")).json()["photo"] is False
    done = await api.request(
        "PUT", "/products/1/photo", content=PHOTO, headers={"Content-Type": "image/png"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["photo"] is True and done.json()["id"] == 1
    first = image_key(sync_engine, SCHEMA, 1)
    assert first is not None and first.startswith("products/tenant_tienda/1/")
    assert objects(settings) == {first: PHOTO}

    again = await api.request(
        "PUT", "/products/1/photo", content=JPEG, headers={"Content-Type": "image/jpeg"}
    )
    assert again.status_code == 200, again.text
    second = image_key(sync_engine, SCHEMA, 1)
    assert second != first and objects(settings) == {str(second): JPEG}

    gone = await api.request("DELETE", "/products/1/photo")
    assert gone.status_code == 200 and gone.json()["photo"] is False
    assert image_key(sync_engine, SCHEMA, 1) is None and objects(settings) == {}
    # Deleting what is not there is no error.
    assert (await api.request("DELETE", "/products/1/photo")).status_code == 200


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"GIF89a" + b"\x00" * 64, "image/png"),  # declared a PNG, is not one
        (PHOTO, "image/jpeg"),  # a PNG declared a JPEG
        (PHOTO, "application/json"),  # not sent as an image
        (PHOTO, "text/plain"),
        (b"", "image/png"),
    ],
)
async def test_a_body_that_is_not_a_photo_is_422_and_nothing_stored(
    api: Api,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    settings: Settings,
    data: bytes,
    mime: str,
) -> None:
    response = await api.request(
        "PUT", "/products/1/photo", content=data, headers={"Content-Type": mime}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body"] and problem["errors"][0]["type"] == "photo"
    assert image_key(sync_engine, SCHEMA, 1) is None and objects(settings) == {}


async def test_a_photo_over_5_mb_is_413(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine, settings: Settings
) -> None:
    big = PHOTO + b"\x00" * (5 * 1024 * 1024)
    response = await api.request(
        "PUT", "/products/1/photo", content=big, headers={"Content-Type": "image/png"}
    )
    assert_problem(response, 413)
    assert image_key(sync_engine, SCHEMA, 1) is None and objects(settings) == {}


async def test_another_shops_product_is_404(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine, settings: Settings
) -> None:
    theirs = other_shops_product(sync_engine, shops["water"].schema)
    for product in (theirs, theirs + 1):
        put = await api.request(
            "PUT",
            f"/products/{product}/photo",
            content=PHOTO,
            headers={"Content-Type": "image/png"},
        )
        assert_problem(put, 404)
        assert_problem(await api.request("DELETE", f"/products/{product}/photo"), 404)
    [(kept,)] = rows(sync_engine, f"SELECT image_key FROM tenant_agua.products WHERE id = {theirs}")
    assert kept == THEIR_PHOTO and objects(settings) == {}
