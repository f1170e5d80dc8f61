"""The panel's conversations in a real headless Chromium at phone size, against
`chatcentral run` and the fake Cloud API: a customer asks for a person on WhatsApp (the
signed webhook, as Meta sends it), the owner signs in with a link from `chatcentral panel
link`, opens Conversaciones, answers (the text reaches the fake Cloud API addressed to the
customer's phone) and closes the conversation (the customer is told they are back at the
menu)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import Engine

from chatcentral.simulator.fake_cloud import Call, FakeCloud
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import rows
from tests.process.test_e2e import post
from tests.support import cloud
from tests.support.browser import phone_browser, screenshot_dir, sign_in_with_link
from tests.support.processes import interrupt, start_run

ANA = "5215512345678"
ANA_TO = "+525512345678"  # how the shop's number addresses her


def customer_says(base: str, body: str) -> None:
    """Ana writes to the grocery store's number (1110001), as Meta delivers it."""
    message = cloud.text(ANA, body, ts=int(time.time()))
    envelope = cloud.envelope(
        cloud.change("1110001", contacts=[cloud.contact(ANA, "Ana López")], messages=[message])
    )
    assert post(base, envelope).status_code == 200


def texts_to_ana(fake: FakeCloud) -> list[str]:
    """The text of each message the shop's number sent Ana (a text, or a message with
    buttons)."""
    sent = [call.body for call in fake.calls() if call.body.get("to") == ANA_TO]
    return [
        body["text"]["body"] if body["type"] == "text" else body["interactive"]["body"]["text"]
        for body in sent
        if body.get("type") in ("text", "interactive")
    ]


def wait_until(fake: FakeCloud, found: Callable[[list[Call]], bool]) -> None:
    deadline = time.monotonic() + 10
    while not found(fake.calls()):
        assert time.monotonic() < deadline, [call.body for call in fake.calls()]
        time.sleep(0.1)


def test_an_owner_answers_a_customer_and_closes_the_conversation(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    shots = screenshot_dir(tmp_path)
    proc, base = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        for said in ("hola", "asesor", "¿Tienen tortillas de harina? Necesito 3 paquetes"):
            customer_says(base, said)
        ((handoff,),) = rows(sync_engine, "SELECT id FROM tenant_tienda.handoffs")
        with phone_browser(tmp_path) as context:
            page = context.new_page()
            sign_in_with_link(page, db_url, base, tmp_path)

            page.get_by_role("link", name="Chats", exact=True).click()
            page.wait_for_url(f"{base}/panel/conversations")
            row = page.locator(f'[data-handoff="{handoff}"]')
            expect(row.locator(".who")).to_have_text("Ana López")
            expect(row.locator(".last")).to_contain_text("tortillas de harina")
            expect(row.locator(".taken")).to_have_text("Sin atender")
            page.screenshot(path=shots / "panel-conversations.png", full_page=True)

            row.click()
            page.wait_for_url(f"{base}/panel/conversations/{handoff}")
            expect(page.locator(".bubble.customer").last).to_contain_text("tortillas de harina")
            page.get_by_label("Tu respuesta").fill("¡Claro! Sí tenemos, a $35 el paquete.")
            page.get_by_role("button", name="Enviar").click()
            expect(page.get_by_role("status")).to_contain_text("tu respuesta va en camino")
            expect(page.locator(".bubble.shop").last).to_contain_text("a $35 el paquete")
            expect(page.locator("#state")).to_have_text("Atendida")
            wait_until(
                fake_cloud,
                lambda _: "¡Claro! Sí tenemos, a $35 el paquete." in texts_to_ana(fake_cloud),
            )
            customer_says(base, "Perfecto, paso en una hora")
            page.reload()
            expect(page.locator(".bubble.customer").last).to_contain_text("paso en una hora")
            page.screenshot(path=shots / "panel-conversation.png", full_page=True)

            page.get_by_role("button", name="Cerrar conversación").click()
            expect(page.get_by_role("status")).to_contain_text("Conversación cerrada")
            expect(page.locator("#state")).to_have_text("Cerrada")
            expect(page.get_by_role("button", name="Enviar")).to_have_count(0)
            page.screenshot(path=shots / "panel-conversation-closed.png", full_page=True)
            page.get_by_role("link", name="← Conversaciones").click()
            expect(page.locator("#no-conversations")).to_be_visible()
        wait_until(
            fake_cloud,
            lambda _: any("Terminó tu conversación" in t for t in texts_to_ana(fake_cloud)),
        )
        assert rows(sync_engine, "SELECT status FROM tenant_tienda.handoffs") == [("closed",)]
    finally:
        interrupt(proc)
