"""The Ajustes page in a real headless Chromium at phone size, against `chatcentral run`:
the owner signs in with a link from `chatcentral panel link`, changes Monday's hours,
closes a day and adds a delivery zone, then rewrites the greeting and watches the
WhatsApp preview follow what they type (settings.js asking the server), and saves it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.conftest import ProvisionedShop
from tests.db.test_panel_settings import stored
from tests.support.browser import (
    dismissed_dialogs,
    phone_browser,
    screenshot_dir,
    sign_in_with_link,
)
from tests.support.processes import interrupt, start_run

GREETING = "¡Hola{name}! Bienvenido a *{shop}* 🍅\n_Pedidos hasta las 7 pm_ <b>sin HTML</b>"


def test_an_owner_changes_the_hours_and_rewrites_the_greeting_with_a_preview(
    db_url: str, shops: dict[str, ProvisionedShop], sync_engine: Engine, tmp_path: Path
) -> None:
    shots = screenshot_dir(tmp_path)
    proc, base = start_run(db_url, tmp_path)
    try:
        with phone_browser(tmp_path) as context:
            page = context.new_page()
            dialogs = dismissed_dialogs(page)
            sign_in_with_link(page, db_url, base, tmp_path)
            page.get_by_role("link", name="Ajustes").click()
            page.wait_for_url(f"{base}/panel/settings")

            # Monday: 10:00 to 14:00 and 16:00 to 20:00; Sunday closed.
            page.get_by_label("Lunes: abre", exact=True).fill("10:00")
            page.get_by_label("Lunes: cierra", exact=True).fill("14:00")
            page.get_by_label("Lunes: abre (2º horario)").fill("16:00")
            page.get_by_label("Lunes: cierra (2º horario)").fill("20:00")
            page.get_by_role("checkbox", name="Domingo").uncheck()
            page.get_by_role("button", name="Guardar horario").click()
            expect(page.get_by_role("status")).to_have_text("Listo: tu horario quedó guardado.")
            page.get_by_label("Cerrar un día").fill("2030-12-25")
            page.get_by_role("button", name="Agregar", exact=True).click()
            expect(page.locator(".settings-list")).to_contain_text(
                "miércoles 25 de diciembre de 2030"
            )
            hours, _ = stored(sync_engine)
            assert hours["mon"] == [["10:00", "14:00"], ["16:00", "20:00"]]
            assert hours["sun"] == [] and hours["holidays"] == ["2030-12-25"]
            # A delivery zone by postal code.
            page.get_by_text("+ Agregar zona").click()
            new_zone = page.locator("#zone-new")
            new_zone.get_by_label("Nombre").fill("Roma")
            new_zone.get_by_label("Códigos postales").fill("06700, 06760")
            new_zone.get_by_label("Envío $").fill("35")
            new_zone.get_by_role("button", name="Agregar zona").click()
            expect(page.get_by_role("status")).to_have_text("Listo: la zona quedó guardada.")
            expect(page.locator("#zone-0 summary")).to_contain_text("CP 06700, 06760")
            page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top, not mid-page
            page.screenshot(path=shots / "panel-settings.png", full_page=True)

            # The greeting, rewritten with the preview following the typing.
            page.get_by_role("link", name="Saludo ¡Hola").click()
            page.wait_for_url(f"{base}/panel/settings/texts/welcome")
            expect(page.locator("#bubble")).to_contain_text("Soy el asistente de")
            page.get_by_label("Texto").fill(GREETING)
            bubble = page.locator("#bubble")
            expect(bubble.locator("strong")).to_have_text("Abarrotes Doña Mary")
            expect(bubble.locator("em")).to_have_text("Pedidos hasta las 7 pm")
            expect(bubble).to_contain_text("¡Hola Ana! Bienvenido a")
            expect(bubble).to_contain_text("<b>sin HTML</b>")  # shown as typed, not markup
            page.screenshot(path=shots / "panel-settings-preview.png")
            page.get_by_role("button", name="Guardar").click()
            expect(page.get_by_role("status")).to_have_text("Listo: así lo verán tus clientes.")
            expect(page.get_by_role("button", name="Restaurar el original")).to_be_visible()
            assert stored(sync_engine)[1]["texts"] == {"welcome": GREETING}
            assert dialogs == []
    finally:
        interrupt(proc)
