"""A product's photo in a real headless Chromium at phone size, against `chatcentral run`
(media in its data dir): the owner signs in with a link from `chatcentral panel link`,
opens a product's photo page, uploads a PNG and sees it drawn; the photo is then served
by the panel itself (its CSP allows images from itself only)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import Engine, text

from tests.conftest import ProvisionedShop
from tests.support.browser import phone_browser, screenshot_dir, sign_in_with_link
from tests.support.images import png
from tests.support.processes import interrupt, start_run

PHOTO = png(480, 360)


def first_product(engine: Engine, schema: str) -> tuple[int, str]:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT id, name FROM {schema}.products WHERE active ORDER BY id LIMIT 1")
        ).one()
    return int(row.id), str(row.name)


def test_an_owner_uploads_a_products_photo_and_sees_it(
    db_url: str, shops: dict[str, ProvisionedShop], sync_engine: Engine, tmp_path: Path
) -> None:
    schema = shops["grocery"].schema
    product, name = first_product(sync_engine, schema)
    shots = screenshot_dir(tmp_path)
    proc, base = start_run(db_url, tmp_path)
    try:
        with phone_browser(tmp_path) as context:
            page = context.new_page()
            sign_in_with_link(page, db_url, base, tmp_path)

            page.goto(f"{base}/panel/products/{product}/photo")
            expect(page.get_by_role("heading")).to_have_text(f"Foto de {name}")
            expect(page.locator("#no-photo")).to_be_visible()
            page.screenshot(path=shots / "panel-product-photo-empty.png", full_page=True)

            page.set_input_files(
                "#photo-file",
                files=[{"name": "tomate.png", "mimeType": "image/png", "buffer": PHOTO}],
            )
            page.get_by_role("button", name="Subir foto").click()
            page.wait_for_url(f"{base}/panel/products/{product}/photo?ok=saved")
            expect(page.get_by_role("status")).to_contain_text("ya sale en WhatsApp")
            photo = page.locator("#photo")
            expect(photo).to_be_visible()
            drawn = photo.evaluate("image => image.complete && image.naturalWidth")
            assert drawn == 480
            expect(page.get_by_role("button", name="Quitar foto")).to_be_visible()
            page.screenshot(path=shots / "panel-product-photo.png", full_page=True)

        with sync_engine.connect() as conn:
            key = conn.execute(
                text(f"SELECT image_key FROM {schema}.products WHERE id = :p"), {"p": product}
            ).scalar_one()
        assert key.startswith(f"products/{schema}/{product}/") and key.endswith(".png")
        assert (tmp_path / ".chatcentral" / "media" / key).read_bytes() == PHOTO
    finally:
        interrupt(proc)
