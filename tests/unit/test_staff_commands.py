"""What an admin typed or tapped, read as one command."""

from __future__ import annotations

import pytest

from chatcentral.conversation.events import REPLY, TEXT, Event
from chatcentral.conversation.staff import (
    AnswerHandoff,
    ChangeStatus,
    CloseHandoff,
    Command,
    Help,
    ListHandoffs,
    ListOrders,
    ShowMenu,
    ShowOrder,
    Unknown,
    ViewAsCustomer,
    read_command,
)


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("Hola", ShowMenu()),
        ("menú", ShowMenu()),
        ("Pedidos", ListOrders()),
        ("pedido 123", ShowOrder(123)),
        ("Pedido 123 en camino", ChangeStatus(123, "en_camino")),
        ("pedido 123 En preparación", ChangeStatus(123, "en_preparacion")),
        ("123 entregado", ChangeStatus(123, "entregado")),
        ("cancelar 123 sin stock", ChangeStatus(123, "cancelado", "sin stock")),
        ("Cancelar pedido 45", ChangeStatus(45, "cancelado")),
        ("confirmar 7", ChangeStatus(7, "confirmado")),
        ("pedido 9 cancelado: se acabó el gas", ChangeStatus(9, "cancelado", "se acabo el gas")),
        ("conversaciones", ListHandoffs()),
        ("Ver como cliente", ViewAsCustomer()),
        ("ayuda", Help()),
        ("cerrar 12", CloseHandoff(12)),
        ("#12 Ya va en camino, gracias", AnswerHandoff(12, "Ya va en camino, gracias")),
        ("pedido 123 volando", Unknown()),
        ("123", Unknown()),
        ("qué tal", Unknown()),
    ],
)
def test_typed_commands(typed: str, command: Command) -> None:
    assert read_command(Event(TEXT, text=typed)) == command


@pytest.mark.parametrize(
    ("reply_id", "command"),
    [
        ("adm:order:123:en_camino", ChangeStatus(123, "en_camino")),
        ("adm:order:123:cancelado", ChangeStatus(123, "cancelado")),
        ("adm:order:123", ShowOrder(123)),
        ("adm:orders:2", ListOrders(2)),
        ("adm:handoff:4:close", CloseHandoff(4)),
        ("adm:customer", ViewAsCustomer()),
        ("adm:order:123:volando", Unknown()),
        ("menu:catalog", Unknown()),
    ],
)
def test_tapped_buttons_and_rows(reply_id: str, command: Command) -> None:
    assert read_command(Event(REPLY, reply_id=reply_id, text="x")) == command


def test_a_reply_to_a_relayed_message_answers_that_handoff() -> None:
    event = Event(TEXT, text="Claro, ¿a qué hora?")
    assert read_command(event, replying_to_handoff=True) == AnswerHandoff(
        None, "Claro, ¿a qué hora?"
    )
    assert read_command(Event(TEXT, text="Cerrar"), replying_to_handoff=True) == CloseHandoff(None)
    # An explicit "#id" still wins over the quoted message.
    assert read_command(Event(TEXT, text="#3 hola"), replying_to_handoff=True) == AnswerHandoff(
        3, "hola"
    )
