"""Building blocks for tests of the core: a shop, a catalog, facts and a conversation in
any state, with no database and no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from transitions import EventData

from chatcentral.conversation.context import Context
from chatcentral.conversation.facts import Catalog, Category, CustomerFacts, Facts, Product
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.machine import Conversation, machine_for
from chatcentral.conversation.shop import Shop

# Tuesday 11:00 in Mexico City: inside the hours below.
TUESDAY_MORNING = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
APPLES = Product(1, 1, "Manzana", None, Decimal("40.00"), "KG", Decimal("5"))
WATER = Product(2, 2, "Agua 1 L", None, Decimal("15.50"), "PIECE", Decimal("4"))
RICE = Product(3, 2, "Arroz", None, Decimal("30.00"), "BOX", None)
REFILL = Product(4, 2, "Garrafón 20 L (recarga)", None, Decimal("35.00"), "GARRAFON", None)
CATALOG = Catalog((Category(1, "Frutas"), Category(2, "Abarrotes")), (APPLES, WATER, RICE, REFILL))


def shop(flow: str = "grocery", **settings: Any) -> Shop:
    hours = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    return Shop(
        id=1,
        slug="t",
        schema="tenant_t",
        name="La Esquina",
        phone_number_id="1",
        display_phone="+525500000000",
        flow=flow,
        active=True,
        timezone="America/Mexico_City",
        currency="MXN",
        business_hours=hours,
        settings=settings,
        admin_phones=(),
        access_token_encrypted=None,
    )


def facts(catalog: Catalog = CATALOG, now: datetime = TUESDAY_MORNING) -> Facts:
    return Facts(
        now=now, catalog_=catalog, customer_=CustomerFacts("Ana López", 0, (), None), orders_=()
    )


def conversation(
    state: str = "main_menu",
    context: Context | None = None,
    *,
    flow: str = "grocery",
    the_facts: Facts | None = None,
    **settings: Any,
) -> Conversation:
    spec = shipped_flow(flow)
    flow_settings, texts = effective(spec, settings)
    return Conversation(
        spec,
        flow_settings,
        texts,
        shop(flow, **settings),
        state,
        context if context is not None else Context(),
        the_facts or facts(),
    )


def event(convo: Conversation, value: Any = None) -> EventData:
    """The event a flow callback receives when its trigger fires with `value`."""
    return EventData(None, None, machine_for(convo.flow), convo, (), {"value": value})


def said(convo: Conversation) -> str:
    """Everything the conversation said so far, as one text."""
    from chatcentral.simulator.render import render

    convo.flush()
    return "\n".join(line for reply in convo.replies for line in render(reply).lines)
