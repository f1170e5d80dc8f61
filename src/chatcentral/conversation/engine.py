"""The decision function: (shop, state, context, event) → new state, context, replies, effects.

No I/O happens here, so every flow is testable without a database. This first version
answers every message with the main menu; the flows issue replaces the body, not the shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatcentral.conversation.events import REACTION, Event
from chatcentral.tenancy.directory import Shop
from chatcentral.whatsapp import outbound

MAIN_MENU = "main_menu"


@dataclass(frozen=True)
class Effect:
    """Something the conversation service must do inside the message's transaction."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    state: str
    context: dict[str, Any]
    replies: list[dict[str, Any]]
    effects: list[Effect] = field(default_factory=list)


def decide(shop: Shop, state: str, context: dict[str, Any], event: Event) -> Decision:
    if event.kind == REACTION:
        return Decision(state=state, context=context, replies=[])
    return Decision(state=MAIN_MENU, context=context, replies=[main_menu(shop)])


def main_menu(shop: Shop) -> dict[str, Any]:
    return outbound.list_message(
        f"¡Hola! Bienvenido a {shop.name}. ¿Qué te gustaría hacer?",
        "Ver opciones",
        [
            outbound.Section(
                title="Menú principal",
                rows=[
                    outbound.Row("menu:catalog", "Ver catálogo"),
                    outbound.Row("menu:order", "Hacer un pedido"),
                    outbound.Row("menu:status", "Estado de pedido"),
                    outbound.Row("menu:agent", "Hablar con un asesor"),
                ],
            )
        ],
    )
