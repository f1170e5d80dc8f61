"""Commands a customer can type in any state ("asesor", "no más recordatorios"), the
reminder's "Pedir lo de siempre" tap, and what a closed shop says: the engine alone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chatcentral.conversation import cart
from chatcentral.conversation.context import Context
from chatcentral.conversation.decision import decide
from chatcentral.conversation.effects import OpenHandoff, OrderPlaced, SetReminders
from chatcentral.conversation.events import REPLY, TEXT, Event
from chatcentral.conversation.facts import (
    CustomerFacts,
    Facts,
    OrderLine,
    OrderSummary,
    Product,
)
from chatcentral.conversation.flow import shipped_flow
from chatcentral.conversation.model import EXPIRED, HANDOFF, MAIN_MENU, NEW
from chatcentral.simulator.render import render
from tests.support.engine_kit import CATALOG, REFILL, RICE, TUESDAY_MORNING, shop

FLOWS = ("grocery", "water_delivery")
AGENT_SAYINGS = ("asesor", "Asesor", "HUMANO", "persona", "agente", "hablar con alguien")
AGENT_SAYINGS += ("Quiero hablar con un asesor", "hablar con una persona.")


def history(product: Product = RICE) -> Facts:
    now = TUESDAY_MORNING
    line = OrderLine(product.id, product.name, product.unit, Decimal("2"), product.price)
    last = OrderSummary(7, now, "Entregado", now, Decimal("70"), "delivery", (line,))
    return Facts(
        now=now,
        catalog_=CATALOG,
        customer_=CustomerFacts("Ana López", 2, (), last),
        orders_=(last,),
    )


def text_of(replies: list[dict[str, object]]) -> str:
    return "\n".join(line for reply in replies for line in render(reply).lines)


def every_state(flow: str) -> list[str]:
    return [state.name for state in shipped_flow(flow).states if state.name != HANDOFF]


def with_cart() -> Context:
    """A context every state can be shown with (a product chosen, a cart, a payment)."""
    context = Context(
        category_id=RICE.category_id,
        product_id=RICE.id,
        fulfillment="pickup",
        payment_method="cash",
        return_to=MAIN_MENU,
    )
    cart.add(context, RICE, Decimal("2"))
    return context


@pytest.mark.parametrize("flow", FLOWS)
def test_asesor_opens_a_handoff_from_every_state_of_the_flow(flow: str) -> None:
    states = every_state(flow)
    assert "checking_status" in states and "entering_notes" in states
    for state in (*states, NEW, EXPIRED):
        context = with_cart() if state != EXPIRED else Context(previous_state="cart")
        decision = decide(shop(flow), state, context, Event(TEXT, text="asesor"), history())
        assert decision.state == HANDOFF, state
        assert len(decision.effects) == 1 and isinstance(decision.effects[0], OpenHandoff), state
        said = text_of(decision.replies)
        assert "le aviso a una persona" in said, state
        assert "No entendí" not in said, state


@pytest.mark.parametrize("saying", AGENT_SAYINGS)
def test_every_synonym_of_asesor_works_from_the_order_status(saying: str) -> None:
    decision = decide(shop(), "checking_status", Context(), Event(TEXT, text=saying), history())
    assert decision.state == HANDOFF
    assert decision.effects == [OpenHandoff(reason="checking_status")]


def test_the_handoff_remembers_where_the_customer_was_and_keeps_the_cart() -> None:
    decision = decide(shop(), "entering_notes", with_cart(), Event(TEXT, text="asesor"), history())
    assert decision.effects == [OpenHandoff(reason="entering_notes")]
    assert cart.count(decision.context) == 1
    back = decide(shop(), HANDOFF, decision.context, Event(TEXT, text="menú"), history())
    assert back.state == MAIN_MENU and cart.count(back.context) == 1


def test_offered_a_person_after_misses_asesor_keeps_where_they_were_stuck() -> None:
    context = Context(return_to="choosing_payment")
    decision = decide(shop(), "offering_agent", context, Event(TEXT, text="asesor"), history())
    assert decision.effects == [OpenHandoff(reason="choosing_payment")]


def test_asesor_in_a_handoff_opens_nothing_more() -> None:
    decision = decide(shop(), HANDOFF, Context(), Event(TEXT, text="asesor"), history())
    assert decision.state == HANDOFF and decision.replies == []
    assert not any(isinstance(effect, OpenHandoff) for effect in decision.effects)


def test_a_word_that_merely_contains_asesor_is_still_read_by_the_state() -> None:
    decision = decide(
        shop(),
        "entering_notes",
        with_cart(),
        Event(TEXT, text="dejar con el asesor de ventas"),
        history(),
    )
    assert decision.state == "confirming_order" and decision.effects == []


# --- reminders off and on ----------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS)
def test_no_mas_recordatorios_works_from_every_state_and_is_confirmed(flow: str) -> None:
    for state in (*every_state(flow), NEW):
        if state in ("placing_order", "starting_checkout"):
            continue  # never waited in: left by an outcome or at once
        decision = decide(
            shop(flow), state, with_cart(), Event(TEXT, text="No más recordatorios"), history()
        )
        assert decision.effects == [SetReminders(opt_out=True)], state
        assert "ya no te enviaremos recordatorios" in text_of(decision.replies), state
        if state != NEW and shipped_flow(flow).state(state).skip is None:
            assert decision.state == state, state  # and the customer stays where they were


def test_reminders_can_be_turned_back_on() -> None:
    decision = decide(
        shop("water_delivery"),
        MAIN_MENU,
        Context(),
        Event(TEXT, text="activar recordatorios"),
        history(REFILL),
    )
    assert decision.effects == [SetReminders(opt_out=False)]
    assert "volveremos a recordarte" in text_of(decision.replies)


# --- the reminder's button ---------------------------------------------------------------


@pytest.mark.parametrize("state", [MAIN_MENU, "checking_status", NEW])
def test_pedir_lo_de_siempre_starts_the_repeat_order_path(state: str) -> None:
    tap = Event(REPLY, text="Pedir lo de siempre", reply_id="repeat:usual")
    decision = decide(shop("water_delivery"), state, Context(), tap, history(REFILL))
    usual = decide(
        shop("water_delivery"),
        "offering_usual",
        Context(),
        Event(REPLY, reply_id="usual:yes"),
        history(REFILL),
    )
    assert decision.state == usual.state == "entering_empties"
    assert cart.lines(decision.context) == cart.lines(usual.context)
    assert [line.product_id for line in cart.lines(decision.context)] == [REFILL.id]


def test_pedir_lo_de_siempre_after_an_idle_session() -> None:
    tap = Event(REPLY, reply_id="repeat:usual")
    expired = Context(previous_state="checking_status", previous=Context())
    decision = decide(shop("water_delivery"), EXPIRED, expired, tap, history(REFILL))
    assert decision.state == "entering_empties"
    assert "Hola de nuevo" in text_of(decision.replies)


def test_pedir_lo_de_siempre_without_an_order_to_repeat_is_not_understood() -> None:
    tap = Event(REPLY, reply_id="repeat:usual")
    no_orders = Facts(TUESDAY_MORNING, CATALOG, CustomerFacts("Ana", 0, (), None), ())
    decision = decide(shop("water_delivery"), MAIN_MENU, Context(), tap, no_orders)
    assert decision.state == MAIN_MENU and cart.count(decision.context) == 0


# --- a closed shop -----------------------------------------------------------------------

SATURDAY_NIGHT = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # Saturday 22:00 in CDMX
HOLIDAY_EVE = datetime(2026, 12, 25, 1, 0, tzinfo=UTC)  # Thursday 24th 19:00 in CDMX


def at(now: datetime) -> Facts:
    facts = history()
    return Facts(now, facts.catalog_, facts.customer_, facts.orders_)


def summary_text(now: datetime, **hours: object) -> str:
    the_shop = shop()
    if hours:
        the_shop = dataclasses.replace(the_shop, business_hours=hours)
    context = with_cart()
    context["notes"] = None
    convo = decide(the_shop, "entering_notes", context, Event(TEXT, text="sin notas"), at(now))
    assert convo.state == "confirming_order"
    return text_of(convo.replies)


def test_the_summary_says_when_the_order_will_be_attended_when_closed() -> None:
    assert "se atenderá" not in summary_text(TUESDAY_MORNING)
    closed = summary_text(SATURDAY_NIGHT)  # open mon–sat: Sunday closed
    assert "Tu pedido se atenderá a partir del lunes 30 de noviembre a las 09:00" in closed


def test_a_holiday_counts_as_closed() -> None:
    hours = {**shop().business_hours, "holidays": ["2026-12-25"]}
    closed = summary_text(HOLIDAY_EVE, **hours)
    assert "Tu pedido se atenderá a partir del sábado 26 de diciembre a las 09:00" in closed
    morning = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # the 24th at 10:00: open
    assert "se atenderá" not in summary_text(morning, **hours)


def test_the_order_confirmation_says_when_it_will_be_attended() -> None:
    placed = OrderPlaced(order_id=41, total=Decimal("60.00"))
    for now, expected in ((SATURDAY_NIGHT, True), (TUESDAY_MORNING, False)):
        decision = decide(shop(), "placing_order", with_cart(), placed, at(now))
        said = text_of(decision.replies)
        assert "#41" in said
        assert ("Tu pedido se atenderá a partir del lunes" in said) is expected


def test_the_handoff_answer_gives_the_hours_and_the_next_opening() -> None:
    decision = decide(
        shop(), "checking_status", Context(), Event(TEXT, text="asesor"), at(SATURDAY_NIGHT)
    )
    said = text_of(decision.replies)
    assert "Ahora estamos cerrados" in said and "lun–sáb 09:00–18:00" in said
    assert "el lunes 30 de noviembre a las 09:00" in said


@pytest.mark.parametrize("state", [MAIN_MENU, "entering_notes", NEW, EXPIRED])
def test_the_reminders_stop_button_turns_them_off(state: str) -> None:
    tap = Event(REPLY, text="No más recordatorios", reply_id="reminders:stop")
    context = with_cart() if state != EXPIRED else Context(previous_state=MAIN_MENU)
    decision = decide(shop("water_delivery"), state, context, tap, history(REFILL))
    assert decision.effects == [SetReminders(opt_out=True)]
    assert "ya no te enviaremos recordatorios" in text_of(decision.replies)
