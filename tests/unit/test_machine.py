"""The machine's model reading input: global commands, typed options, misses, outcomes."""

from __future__ import annotations

from decimal import Decimal

from chatcentral.conversation import cart
from chatcentral.conversation.context import Context
from chatcentral.conversation.effects import (
    CloseHandoff,
    OrderPlaced,
    OrderRejected,
    RelayToStaff,
)
from chatcentral.conversation.events import REACTION, REPLY, TEXT, Event
from chatcentral.conversation.model import MAIN_MENU
from tests.support.engine_kit import APPLES, RICE, conversation, said


def typed(text: str) -> Event:
    return Event(TEXT, text=text)


def test_menu_works_from_any_state_and_resets_the_misses() -> None:
    convo = conversation("entering_notes", Context(misses=2))
    convo.handle(typed("Menú"))
    assert convo.state == MAIN_MENU and convo.context["misses"] == 0


def test_cancel_with_a_cart_asks_first_and_remembers_where_it_was() -> None:
    context = Context()
    cart.add(context, RICE, Decimal("1"))
    convo = conversation("choosing_payment", context)
    convo.handle(typed("cancelar"))
    assert convo.state == "confirming_cancel" and convo.context["return_to"] == "choosing_payment"
    convo.handle(Event(REPLY, reply_id="cancel:no"))
    assert convo.state == "choosing_payment" and cart.count(convo.context) == 1


def test_three_misunderstood_messages_offer_a_person() -> None:
    convo = conversation("choosing_payment", Context(fulfillment="pickup"))
    for _ in range(2):
        convo.handle(typed("zzz"))
        assert convo.state == "choosing_payment"
    convo.handle(typed("zzz"))
    assert convo.state == "offering_agent" and convo.context["misses"] == 0


def test_a_typed_number_or_title_picks_from_what_was_offered() -> None:
    convo = conversation("main_menu")
    convo.render()  # offers the menu
    titles = [title for _, title in convo.context["options"]]
    convo.handle(typed("1"))
    assert convo.state == "choosing_category"
    again = conversation("main_menu")
    again.render()
    again.handle(typed(titles[2].upper()))  # "ESTADO DE PEDIDO"
    assert again.state in ("checking_status", MAIN_MENU)
    assert "Estado" in titles[2]


def test_a_refused_trigger_says_why_and_stays() -> None:
    context = Context(options=[])
    cart.add(context, APPLES, Decimal("1"))  # $40.00, the grocery minimum is $100.00
    convo = conversation("reviewing_cart", context)
    convo.handle(Event(REPLY, reply_id="cart:checkout"))
    assert convo.state == "reviewing_cart"
    assert "El pedido mínimo es de $100.00 y tu pedido suma $40.00" in said(convo)


def test_outcomes_fire_their_own_triggers() -> None:
    context = Context()
    cart.add(context, RICE, Decimal("4"))
    placed = conversation("placing_order", Context(**context))
    placed.handle(OrderPlaced(order_id=9, total=Decimal("120.00")))
    assert placed.state == MAIN_MENU and "#9" in said(placed)
    rejected = conversation("placing_order", Context(**context))
    rejected.handle(OrderRejected(problems=(), adjust=()))
    assert rejected.state == "reviewing_cart"


def test_in_handoff_the_bot_is_quiet_and_relays_until_menu() -> None:
    convo = conversation("handoff")
    convo.handle(typed("hola, ¿me ayudan?"))
    assert convo.state == "handoff" and convo.replies == []
    assert convo.effects == [RelayToStaff(typed("hola, ¿me ayudan?"))]
    convo.handle(typed("menu"))
    assert convo.state == MAIN_MENU and convo.effects[-1] == CloseHandoff()


def test_reactions_change_nothing() -> None:
    convo = conversation("choosing_payment", Context(misses=1))
    convo.handle(Event(REACTION, details={"emoji": "👍"}))
    assert convo.state == "choosing_payment" and convo.replies == []
    assert convo.context == Context(misses=1)
