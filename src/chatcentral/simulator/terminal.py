"""The terminal side of `chatcentral chat`: read a person's lines, print the bot's replies."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from typing import Any, TextIO

import phonenumbers
from rich.console import Console
from rich.text import Text

from chatcentral.config import Settings
from chatcentral.conversation.text_input import coordinates_in
from chatcentral.simulator.chat import (
    DEFAULT_PHONE,
    DEFAULT_TENANT,
    ChatError,
    ChatSession,
    digits,
)
from chatcentral.simulator.render import render

_OPTION_LINE = re.compile(r"^\s+(\d+\.|\[\d+\]) ")


async def run_chat(
    settings: Settings,
    database_url: str,
    *,
    tenant: str = DEFAULT_TENANT,
    phone: str = DEFAULT_PHONE,
    url: str | None = None,
    listen: str | None = None,
    admin: bool = False,
    stdin: TextIO,
    console: Console | None = None,
) -> int:
    """Read the person's lines from `stdin` and print the bot's replies until EOF or salir.
    With `admin`, the person is the shop's admin, and `cliente: …` speaks as the customer."""
    out = console or Console(soft_wrap=True, highlight=False)
    session = ChatSession(
        settings, database_url, tenant=tenant, phone=phone, url=url, listen=listen, admin=admin
    )
    async with session as chat:
        for note in chat.provisioned:
            out.print(Text(note, style="dim"))
        if url is not None:
            out.print(
                f"Fake Cloud API on {chat.cloud_url}: the server at {url} must run with "
                f"WHATSAPP_API_BASE_URL={chat.cloud_url} for its replies to reach this chat."
            )
        out.print(Text(banner(chat)))
        out.print()
        prompt = stdin.isatty()
        lines = _LineReader(stdin)
        while True:
            if prompt:
                out.print(Text("tú› ", style="bold cyan"), end="")
            line = await lines.next()
            if line is None or line.strip().lower() == "salir":
                break
            if not line.strip():
                continue
            try:
                replies = await _act(chat, line.strip(), out)
            except ChatError as exc:
                out.print(Text(f"(!) {exc}", style="red"))
                continue
            if replies is not None:
                _show(out, chat.shop.name, replies)
                for wa_id, body in chat.others:
                    _show(out, f"{chat.shop.name} → {_pretty(wa_id)}", [body])
    return 0


def banner(chat: ChatSession) -> str:
    """One paragraph: who is talking to whom and how to answer."""
    if chat.admin:
        return (
            f"Panel de {chat.shop.name} por WhatsApp: escribes como su administrador "
            f"({_pretty(chat.wa_id)}): «hola» para el menú, «pedidos», «pedido 1 en camino»… "
            "Escribe «cliente: hola» para hablar como el cliente "
            f"({_pretty(chat.customer_wa_id)}); lo que el bot le manda a cada uno aparece con su "
            "número. «salir» para terminar."
        )
    return (
        f"Chat de prueba con {chat.shop.name} ({_pretty(chat.shop.display_phone)}): escribes "
        f"como un cliente ({_pretty(chat.wa_id)}). Cuando el bot muestre opciones, elige una "
        "escribiendo su número; comparte una ubicación con «ubicacion 19.43,-99.13»; manda una "
        "foto con «foto» (con un pie opcional: «foto mi lista»); escribe «salir» para terminar."
    )


async def _act(chat: ChatSession, line: str, out: Console) -> list[dict[str, Any]] | None:
    if chat.admin and line.lower().startswith(("cliente:", "c:")):
        return await chat.send_text(line.split(":", 1)[1].strip() or "hola", as_customer=True)
    keyword, _, rest = line.partition(" ")
    keyword = keyword.lower()
    if keyword in ("ubicacion", "ubicación"):
        coordinates = coordinates_in(rest)
        if coordinates is None:
            out.print(Text("escribe: ubicacion LAT,LNG   por ejemplo: ubicacion 19.43,-99.13"))
            return None
        return await chat.send_location(*coordinates)
    if keyword == "foto":
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))  # Meta's ids are long digits
        return await chat.send_image(media_id, caption=rest.strip() or None)
    if line.isdigit() and 1 <= int(line) <= len(chat.options):
        out.print(Text(f"  → {chat.options[int(line) - 1].title}", style="dim"))
        return await chat.choose(int(line))
    return await chat.send_text(line)


def _show(out: Console, shop_name: str, replies: list[dict[str, Any]]) -> None:
    if not replies:
        out.print(Text("(sin respuesta)", style="dim"))
    for reply in replies:
        for line in render(reply).lines:
            style = "bold" if _OPTION_LINE.match(line) else ""
            out.print(Text.assemble((f"{shop_name}› ", "green"), (line, style)))
    out.print()


class _LineReader:
    """Lines of a stream, read on a daemon thread: the event loop (the dispatcher, the
    LISTEN connection) keeps running while the person types, and Ctrl-C is not held up."""

    def __init__(self, stream: TextIO) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._stream = stream
        threading.Thread(target=self._pump, daemon=True, name="chat-stdin").start()

    def _pump(self) -> None:
        try:
            for line in iter(self._stream.readline, ""):
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
        except RuntimeError:
            pass  # the loop closed first: the chat is over

    async def next(self) -> str | None:
        """The next line, or None at end of input."""
        return await self._queue.get()


def _pretty(phone: str) -> str:
    """`+52 55 1234 5678` for any form of a number; unknown forms as given."""
    try:
        number = phonenumbers.parse("+" + digits(phone))
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
