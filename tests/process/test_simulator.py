"""`chatcentral chat`: rendering, the chat session against real PostgreSQL, the CLI loop.

Assertions about what the bot says stay minimal (the conversation engine evolves); what is
checked is the simulator's own mechanics: numbering, the webhooks it builds, its exits.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from chatcentral.config import Settings
from chatcentral.simulator.chat import ChatError, ChatSession, interactive_reply
from chatcentral.simulator.render import LOCATION_HINT, Option, Rendered, render
from chatcentral.whatsapp import outbound
from tests.support.processes import interrupt, start_run

SHOP = "Abarrotes Doña Mary (demo)"

# --- render -----------------------------------------------------------------------------------


def test_render_text_with_or_without_the_envelope() -> None:
    message = outbound.text("¡Hola!\nBienvenido")
    assert render(message) == Rendered(["¡Hola!", "Bienvenido"])
    assert render(outbound.envelope(message, to="525512345678")) == render(message)


def test_render_list_numbers_rows_across_sections() -> None:
    message = outbound.list_message(
        "Elige un producto",
        "Ver productos",
        [
            outbound.Section(
                "Frutas",
                [
                    outbound.Row("p:1", "Manzana", "$30.00 / kg"),
                    outbound.Row("p:2", "Plátano"),
                ],
            ),
            outbound.Section("Verduras", [outbound.Row("p:3", "Jitomate", "$25.00 / kg")]),
        ],
        header="Catálogo",
        footer="Precios con IVA",
    )
    assert render(outbound.envelope(message, to="+525512345678")) == Rendered(
        [
            "Catálogo",
            "Elige un producto",
            "Precios con IVA",
            "Frutas",
            "  1. Manzana — $30.00 / kg",
            "  2. Plátano",
            "Verduras",
            "  3. Jitomate — $25.00 / kg",
        ],
        [
            Option(1, "p:1", "Manzana", "$30.00 / kg"),
            Option(2, "p:2", "Plátano"),
            Option(3, "p:3", "Jitomate", "$25.00 / kg"),
        ],
        "list_reply",
    )


def test_render_reply_buttons() -> None:
    message = outbound.reply_buttons(
        "¿Confirmas tu pedido?",
        [outbound.Button("confirm:yes", "Sí, confirmar"), outbound.Button("confirm:no", "No")],
    )
    assert render(message) == Rendered(
        ["¿Confirmas tu pedido?", "  [1] Sí, confirmar   [2] No"],
        [Option(1, "confirm:yes", "Sí, confirmar"), Option(2, "confirm:no", "No")],
        "button_reply",
    )


def test_render_location_request_template_and_anything_else() -> None:
    assert render(outbound.location_request("¿A dónde te lo llevamos?")).lines == [
        "¿A dónde te lo llevamos?",
        "  (comparte tu ubicación: escribe  ubicacion LAT,LNG)",
    ]
    assert LOCATION_HINT == "  (comparte tu ubicación: escribe  ubicacion LAT,LNG)"
    template = outbound.template("pedido_listo", "es_MX", body_params=["Juan", "#123"])
    assert render(template) == Rendered(["[plantilla pedido_listo] Juan, #123"])
    assert render(outbound.template("hola", "es")).lines == ["[plantilla hola]"]
    image = {"type": "image", "image": {"id": "123", "caption": "Tu ticket"}}
    assert render(image).lines == ["[foto]", "Tu ticket"]  # a photo relayed in a handoff
    document = {"type": "document", "document": {"id": "9", "filename": "lista.pdf"}}
    assert render(outbound.envelope(document, to="+525512345678")).lines == [
        "[documento lista.pdf]"
    ]
    reaction = {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}
    expected = ['{"reaction": {"emoji": "👍", "message_id": "wamid.X"}, "type": "reaction"}']
    assert render(reaction).lines == expected
    assert render(outbound.envelope(reaction, to="+525512345678")).lines == expected
    broken = {"type": "interactive", "interactive": {"type": "list"}}
    assert render(broken) == Rendered(['{"interactive": {"type": "list"}, "type": "interactive"}'])


def test_an_interactive_reply_is_shaped_like_metas() -> None:
    button = interactive_reply(Option(2, "confirm:no", "No"), "button_reply", "wamid.X", "5215")
    assert button == {
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "confirm:no", "title": "No"},
        },
        "context": {"from": "5215", "id": "wamid.X"},
    }
    row = interactive_reply(Option(1, "p:1", "Manzana", "$30"), "list_reply", None, "5215")
    assert row == {
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "list_reply": {"id": "p:1", "title": "Manzana", "description": "$30"},
        },
    }


# --- ChatSession ------------------------------------------------------------------------------


def _inbound(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT type, body, status FROM tenant_demo.messages "
                    "WHERE direction = 'in' ORDER BY id"
                )
            )
        )


def _interactive(replies: list[dict[str, Any]]) -> list[Rendered]:
    return [render(r) for r in replies if render(r).options]


async def test_a_session_talks_to_the_demo_shop_in_process(
    settings: Settings, db_url: str, sync_engine: Engine
) -> None:
    async with ChatSession(settings, db_url) as chat:
        assert chat.shop.slug == "demo" and chat.shop.name == SHOP
        assert chat.wa_id == "525512345678"  # 521… is stored canonically

        replies = await chat.send_text("hola")
        assert replies and all(reply["to"] == "+525512345678" for reply in replies)
        assert not any(reply.get("status") == "read" for reply in replies)
        lists = [r for r in replies if r["type"] == "interactive"]
        assert any("Ver catálogo" in [o.title for o in render(r).options] for r in lists)
        offered = _interactive(replies)[-1]
        assert chat.options == offered.options
        assert [o.number for o in chat.options] == list(range(1, len(chat.options) + 1))

        first = chat.options[0]
        await chat.choose(1)
        chosen = _inbound(sync_engine)[-1]
        assert chosen.type == "interactive"
        assert chosen.body["interactive"]["type"] == offered.reply_type
        reply = chosen.body["interactive"][str(offered.reply_type)]
        assert (reply["id"], reply["title"]) == (first.reply_id, first.title)
        assert chosen.body["context"]["id"].startswith("wamid.FAKE")  # the menu's own wamid

        await chat.send_location(19.4326, -99.1332, name="Zócalo", address="Centro, CDMX")
        located = _inbound(sync_engine)[-1]
        assert located.type == "location"
        assert located.body["location"] == {
            "latitude": 19.4326,
            "longitude": -99.1332,
            "name": "Zócalo",
            "address": "Centro, CDMX",
        }

        await chat.send_image("1234567890123456", caption="mi lista")
        photo = _inbound(sync_engine)[-1]
        assert photo.type == "image" and photo.body["image"]["caption"] == "mi lista"

    rows = _inbound(sync_engine)
    assert len(rows) == 4
    assert {row.status for row in rows} == {"received"}  # none arrived "stale"
    stamps = [int(row.body["timestamp"]) for row in rows]
    assert stamps == sorted(set(stamps))
    assert {row.body["from"] for row in rows} == {"5215512345678"}


async def test_an_admin_session_sees_both_sides(settings: Settings, db_url: str) -> None:
    """`chat --admin`: the owner's panel, the customer spoken for with `as_customer`, and
    what the bot sends each of them kept apart."""
    async with ChatSession(settings, db_url, admin=True, phone="5215500001111") as chat:
        assert chat.wa_id == "525510000099"  # the demo shop's admin
        await chat.send_text("hola")
        assert [o.title for o in chat.options][:2] == [
            "Pedidos pendientes",
            "Conversaciones abiertas",
        ]
        welcome = await chat.send_text("hola", as_customer=True)
        assert all(reply["to"] == "+525500001111" for reply in welcome)
        assert "Ver catálogo" in str(welcome) and chat.others == []
        for line in ("catalogo", "5", "2", "1", "3", "1", "2", "3", "sin notas", "confirmar"):
            await chat.send_text(line, as_customer=True)
        assert [to for to, _ in chat.others] == ["525510000099"]  # the owner's notification
        answer = await chat.send_text("pedido 1 en camino")
        assert "Pedido #1: *En camino*" in answer[0]["text"]["body"]
        assert [(to, body["text"]["body"]) for to, body in chat.others] == [
            ("525500001111", "🚚 Tu pedido #1 va en camino.")
        ]


async def test_an_unknown_shop_and_a_missing_menu_are_refused(
    settings: Settings, db_url: str
) -> None:
    with pytest.raises(ChatError, match="no tenant with slug 'nope'"):
        async with ChatSession(settings, db_url, tenant="nope"):
            pass
    with pytest.raises(ChatError, match="no options"):
        await ChatSession(settings, db_url).choose(1)
    with pytest.raises(ChatError, match="not a phone number"):
        ChatSession(settings, db_url, phone="hola")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_session_talks_to_a_running_server(
    settings: Settings, db_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    cloud = f"127.0.0.1:{port}"
    proc, base = start_run(
        db_url, tmp_path, "--demo", env={"WHATSAPP_API_BASE_URL": f"http://{cloud}"}
    )
    try:
        async with ChatSession(settings, db_url, url=base, listen=cloud) as chat:
            assert chat.cloud_url == f"http://{cloud}"
            replies = await chat.send_text("hola")
            assert replies and chat.options
            assert all(reply["to"] == "+525512345678" for reply in replies)
    finally:
        interrupt(proc)


# --- The CLI ----------------------------------------------------------------------------------


def _chat_cli(db_url: str, cwd: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    # A fresh checkout: no .env (cwd is empty) and no WhatsApp secrets in the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "CHATCENTRAL_"))}
    env["DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "-m", "chatcentral.cli", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_cli_chats_through_stdin(db_url: str, tmp_path: Path) -> None:
    done = _chat_cli(db_url, tmp_path, stdin="hola\n1\nubicacion 19.43,-99.13\nsalir\nhola\n")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert SHOP in out and "+52 55 1234 5678" in out
    assert "ubicacion 19.43,-99.13" in out and "foto" in out and "salir" in out
    assert re.search(rf"^{re.escape(SHOP)}› ", out, re.MULTILINE)  # the bot's lines
    assert re.search(rf"^{re.escape(SHOP)}›   1\. \S", out, re.MULTILINE)  # numbered options
    assert re.search(r"^  → \S", out, re.MULTILINE)  # "1" chose the first option


def test_the_cli_ends_at_end_of_input(db_url: str, tmp_path: Path) -> None:
    done = _chat_cli(db_url, tmp_path, "--tenant", "demo-agua", stdin="")
    assert done.returncode == 0, done.stderr
    assert "Agua Purificada La Fuente (demo)" in done.stdout


def test_the_cli_refuses_an_unknown_shop_in_one_line(db_url: str, tmp_path: Path) -> None:
    done = _chat_cli(db_url, tmp_path, "--tenant", "x", stdin="hola\n")
    assert done.returncode != 0
    assert done.stderr.strip() == "chatcentral: error: no tenant with slug 'x'"
