"""The Catálogo page in a real headless Chromium at phone size, against `chatcentral run`
and the fake Cloud API: the owner signs in with a link from `chatcentral panel link`,
searches, changes a price (saved in the background by catalog.js, no reload) and a
customer browsing on WhatsApp then sees the new price; adds a product; a CSV with a bad
line is refused with the line named and nothing imported."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, expect
from sqlalchemy import Engine

from chatcentral.simulator import webhooks
from chatcentral.simulator.fake_cloud import FakeCloud
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import rows
from tests.process.test_e2e import post
from tests.support.browser import phone_browser, screenshot_dir, sign_in_with_link
from tests.support.processes import interrupt, start_run

CUSTOMER = "5215512345678"
BAD_CSV = (
    "name,category,price,unit,description,stock,active\n"
    "Cebolla blanca,Frutas y verduras,20.00,KG,,30,true\n"
    "Mango Ataúlfo,Frutas y verduras,cuarenta,KG,,,true\n"
)


def customer_says(base: str, message: dict[str, Any]) -> None:
    body = webhooks.one_change("1110001", contacts=[webhooks.contact(CUSTOMER)], messages=[message])
    assert post(base, body).is_success


def product_list_with(fake: FakeCloud, row_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The list message to the customer that offers this product row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in fake.calls():
            rows_ = [
                row
                for section in call.body.get("interactive", {})
                .get("action", {})
                .get("sections", [])
                for row in section.get("rows", [])
            ]
            for row in rows_:
                if row.get("id") == row_id:
                    return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"no list offered {row_id}: {json.dumps([c.body for c in fake.calls()])}")


def test_an_owner_searches_changes_a_price_and_a_bad_csv_is_refused(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    [(cebolla, category)] = rows(
        sync_engine,
        "SELECT id, category_id FROM tenant_tienda.products WHERE name = 'Cebolla blanca'",
    )
    before = rows(sync_engine, "SELECT id, name, price, active FROM tenant_tienda.products")
    shots = screenshot_dir(tmp_path)
    proc, base = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        with phone_browser(tmp_path) as context:
            page = context.new_page()
            errors: list[str] = []

            def console(message: ConsoleMessage) -> None:
                # A CSP refusal or a script error; not the 422s and the favicon's 404.
                if message.type == "error" and "Failed to load resource" not in message.text:
                    errors.append(message.text)

            page.on("console", console)
            sign_in_with_link(page, db_url, base, tmp_path)
            page.get_by_role("link", name="Catálogo").click()
            page.wait_for_url(f"{base}/panel/catalog")
            expect(page.locator(".catalog-category h2").first).to_contain_text("Frutas y verduras")
            page.screenshot(path=shots / "panel-catalog.png")

            page.get_by_placeholder("Buscar producto").fill("CEBOLLA")
            page.get_by_placeholder("Buscar producto").press("Enter")
            page.wait_for_url(f"{base}/panel/catalog?q=CEBOLLA")
            expect(page.locator(".catalog-row")).to_have_count(1)

            # A new price, saved as the field is left: no page load, the row says so.
            price = page.locator(f"#price-{cebolla}")
            price.fill("31.50")
            price.press("Tab")
            expect(page.locator(f"#p{cebolla} .catalog-saved")).to_have_text("Guardado ✓")
            expect(page.locator(f"#price-{cebolla}")).to_have_value("31.50")
            assert page.url == f"{base}/panel/catalog?q=CEBOLLA"
            assert rows(
                sync_engine, "SELECT price FROM tenant_tienda.products WHERE id = :id", id=cebolla
            ) == [(31.5,)]
            page.screenshot(path=shots / "panel-catalog-saved.png")

            # A bad value: the row's error in Spanish, nothing saved.
            price = page.locator(f"#price-{cebolla}")
            price.fill("-3")
            price.press("Tab")
            expect(page.locator(f"#p{cebolla} [role=alert]")).to_have_text(
                "El precio no puede ser negativo."
            )

            # The customer browsing the catalog on WhatsApp sees the new price.
            customer_says(base, webhooks.text(CUSTOMER, "hola"))
            product_list_with(fake_cloud, "menu:catalog")
            customer_says(base, webhooks.list_reply(CUSTOMER, "menu:catalog", "Ver catálogo"))
            product_list_with(fake_cloud, f"cat:{category}")
            customer_says(base, webhooks.list_reply(CUSTOMER, f"cat:{category}", "Frutas"))
            offered = product_list_with(fake_cloud, f"prod:{cebolla}")
            assert offered["description"].startswith("$31.50 / kg"), offered

            # A new product: a wrong price is pointed out, then it is added.
            page.goto(f"{base}/panel/catalog")
            page.get_by_text("Agregar producto").click()
            page.get_by_label("Nombre").fill("Mango Ataúlfo")
            page.get_by_label("Categoría").fill("Frutas y verduras")
            page.get_by_label("Precio", exact=True).fill("-40")
            page.get_by_label("Se vende por").select_option("KG")
            page.get_by_role("button", name="Agregar", exact=True).click()
            expect(page.locator(".catalog-field-error")).to_have_text(
                "El precio no puede ser negativo."
            )
            page.screenshot(path=shots / "panel-catalog-add-error.png")
            page.get_by_label("Precio", exact=True).fill("40")
            page.get_by_role("button", name="Agregar", exact=True).click()
            expect(page.locator("#notice")).to_have_text("Listo: producto agregado.")

            # A CSV with a bad line: the line named, nothing imported.
            page.get_by_text("Importar CSV").click()
            page.get_by_label("Archivo CSV").set_input_files(
                {"name": "catalogo.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}
            )
            page.get_by_role("button", name="Importar").click()
            error = page.locator("#import-error")
            expect(error).to_contain_text("No se importó nada")
            expect(error).to_contain_text("línea 3")
            expect(error).to_contain_text("«cuarenta» no es un número")
            error.scroll_into_view_if_needed()
            page.screenshot(path=shots / "panel-catalog-import-error.png")
            assert errors == []
        after = rows(sync_engine, "SELECT id, name, price, active FROM tenant_tienda.products")
        changed = set(after) ^ set(before)
        assert {row[1] for row in changed} == {"Cebolla blanca", "Mango Ataúlfo"}
        assert (cebolla, "Cebolla blanca", 31.5, True) in after  # not the CSV's 20.00
    finally:
        interrupt(proc)
