"""The panel in a real headless Chromium at phone size, against `chatcentral run` and the
fake Cloud API: ask for a link, open the one the shop's number sent to the owner's
WhatsApp, watch an order arrive live on the board, open it and send it on its way (the
customer's WhatsApp message reaches the fake Cloud API), log out and back in with a link
from `chatcentral panel link`. A customer named `<script>alert(1)</script>` is shown as
text and runs nothing."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import Engine

from chatcentral.simulator.fake_cloud import FakeCloud
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import add_customer, add_order
from tests.support.browser import (
    dismissed_dialogs,
    phone_browser,
    screenshot_dir,
    sign_in_with_link,
)
from tests.support.processes import interrupt, start_run

SCRIPT_NAME = "<script>alert(1)</script>"


def test_an_owner_signs_in_sees_an_order_arrive_and_sends_it_on_its_way(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    schema = shops["grocery"].schema
    sneaky = add_customer(sync_engine, schema, "5215511112222", name=SCRIPT_NAME)
    first = add_order(sync_engine, schema, sneaky)
    shots = screenshot_dir(tmp_path)
    proc, base = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        with phone_browser(tmp_path) as context:
            page = context.new_page()
            dialogs = dismissed_dialogs(page)

            # The owner asks for a link; the shop's number sends it to their WhatsApp.
            page.goto(f"{base}/panel/")
            page.wait_for_url(f"{base}/panel/login")
            page.screenshot(path=shots / "panel-login.png")
            page.get_by_label("Tu número de WhatsApp").fill("55 8765 4321")
            page.get_by_role("button", name="Enviarme el enlace").click()
            expect(page.locator("#sent")).to_contain_text("le enviamos un enlace")
            page.screenshot(path=shots / "panel-link-sent.png")
            sent = {call.phone_number_id: call.body for call in fake_cloud.wait_for(2)}
            assert set(sent) == {"1110001", "2220002"}  # each shop from its own number
            template = sent["1110001"]["template"]
            assert sent["1110001"]["to"] == "+525587654321"
            assert template["name"] == "acceso_panel"
            link = template["components"][0]["parameters"][1]["text"]
            assert link.startswith(f"{base}/panel/login/link?t=")

            page.goto(link)
            page.screenshot(path=shots / "panel-link.png")
            page.get_by_role("button", name="Entrar").click()
            page.wait_for_url(f"{base}/panel/")
            board = page.locator("#board")
            expect(board.locator(f'[data-order="{first}"] .customer')).to_have_text(SCRIPT_NAME)

            # A new order while the board is open: the live feed brings it in.
            ana = add_customer(sync_engine, schema, "5215512345678", name="Ana López")
            second = add_order(sync_engine, schema, ana)
            arrived = board.locator(f'[data-order="{second}"]')
            expect(arrived).to_be_visible(timeout=10_000)
            expect(arrived).to_have_class("order fresh")
            page.screenshot(path=shots / "panel-board.png", full_page=True)

            arrived.click()
            page.wait_for_url(f"{base}/panel/orders/{second}")
            expect(page.locator("#notes")).to_have_text("sin cebolla")
            page.screenshot(path=shots / "panel-order.png", full_page=True)
            page.get_by_role("button", name="En camino").click()
            expect(page.locator("#status")).to_have_text("En camino")
            expect(page.get_by_role("status")).to_contain_text("el cliente fue avisado")
            page.screenshot(path=shots / "panel-order-moved.png", full_page=True)

            page.goto(f"{base}/panel/orders/{first}")
            expect(page.locator("#customer")).to_contain_text(SCRIPT_NAME)

            # Out, and back in with the link the operator prints.
            page.get_by_role("button", name="Salir").click()
            page.wait_for_url(f"{base}/panel/login")
            sign_in_with_link(page, db_url, base, tmp_path)
            expect(page.locator(".brand")).to_have_text("Abarrotes Doña Mary")
            assert dialogs == []
        to_customer = [
            call
            for call in fake_cloud.wait_for(3)
            if not call.is_mark_read and call.body.get("type") == "text"
        ]
        assert [(c.body["to"], c.body["text"]["body"]) for c in to_customer] == [
            ("+525512345678", f"🚚 Tu pedido #{second} va en camino.")
        ]
    finally:
        interrupt(proc)
