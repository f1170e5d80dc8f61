"""The customer-facing texts a shop words its own way (from the panel): which ones, the
placeholders each may use, and how long each may be.

A shop's text is filled with `str.format` as the engine fills the flow's own
(`model.fill_text`): a placeholder the engine does not pass would break the conversation,
so only the ones listed here are accepted. The messages of `TextRefused` are for the shop
owner, in Spanish.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from chatcentral.conversation.model import fill_text
from chatcentral.whatsapp import outbound

# Most of these texts open or make a menu's or buttons' body (1024, the smaller of
# WhatsApp's body limits); the closed-shop line is put above the order summary, which is
# cut to fit, so it is kept short.
BODY_MAX = outbound.INTERACTIVE_BODY_MAX
ABOVE_SUMMARY_MAX = 300


@dataclass(frozen=True)
class ShopText:
    key: str
    label: str
    when: str  # when the customer reads it
    placeholders: tuple[str, ...] = ()  # besides {shop}, which every text may use
    limit: int = BODY_MAX


SHOP_TEXTS = (
    ShopText("welcome", "Saludo", "Cuando un cliente escribe por primera vez.", ("name",)),
    ShopText(
        "welcome_back", "Saludo al volver", "Cuando vuelve tras un rato sin escribir.", ("name",)
    ),
    ShopText("main_menu.body", "Menú principal", "Arriba de las opciones del menú."),
    ShopText("help.body", "Ayuda", "Cuando escribe «ayuda»."),
    ShopText("catalog.empty", "Sin productos", "Cuando no hay productos disponibles."),
    ShopText("out_of_zone.body", "Fuera de zona", "Cuando su dirección no está en tus zonas."),
    ShopText(
        "order.placed",
        "Pedido confirmado",
        "Al confirmar su pedido.",
        ("number", "summary", "total"),
    ),
    ShopText("cancel.done", "Cancelación", "Cuando cancela lo que estaba haciendo."),
    ShopText("handoff.open", "Hablar con una persona", "Cuando pide hablar con alguien."),
    ShopText(
        "handoff.closed",
        "Tienda cerrada",
        "Cuando pide hablar con alguien fuera de tu horario.",
        ("hours", "opening"),
    ),
    ShopText(
        "hours.order_later",
        "Pedido fuera de horario",
        "Arriba del resumen de un pedido hecho con la tienda cerrada.",
        ("opening",),
        ABOVE_SUMMARY_MAX,
    ),
)
BY_KEY = {text.key: text for text in SHOP_TEXTS}

# What each placeholder holds, for the owner.
PLACEHOLDER_HINTS = {
    "shop": "el nombre de tu tienda",
    "name": "el nombre del cliente, con un espacio antes",
    "number": "el número de pedido",
    "summary": "los productos del pedido",
    "total": "el total",
    "hours": "tu horario",
    "opening": "cuándo abres",
}


class TextRefused(ValueError):
    """A text the shop cannot use; the message says why, in Spanish."""


def clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def check_text(spec: ShopText, text: str, shop_name: str, values: Mapping[str, object]) -> str:
    """The text as customers will read it, filled with `values` (and `shop_name`);
    TextRefused when it is empty, uses a placeholder it may not, or is too long as typed
    or as filled."""
    text = clean(text)
    if not text:
        raise TextRefused("Escribe el texto, o usa «Restaurar» para volver al original.")
    _check_placeholders(spec, text)
    for length in (len(text), len(filled := fill_text(text, shop_name, **values))):
        if length > spec.limit:
            raise TextRefused(
                f"El mensaje queda de {length} caracteres y WhatsApp acepta hasta "
                f"{spec.limit} aquí. Acórtalo un poco."
            )
    return filled


def _check_placeholders(spec: ShopText, text: str) -> None:
    allowed = ("shop", *spec.placeholders)
    usable = ", ".join("{" + name + "}" for name in allowed)
    braces = TextRefused(f"Las llaves {{ }} solo van alrededor de un dato: {usable}.")
    try:
        parts = [(n, f, c) for _, n, f, c in string.Formatter().parse(text) if n is not None]
    except ValueError:
        raise braces from None
    for name, format_spec, conversion in parts:
        if format_spec or conversion is not None:
            raise braces
        if name not in allowed:
            raise TextRefused(f"{{{name}}} no se puede usar en este texto; puedes usar {usable}.")
