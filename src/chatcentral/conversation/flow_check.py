"""`chatcentral flows check`: prove a flow is whole before any customer meets it.

For each flow: every state can be reached from the first one; from every state the
customer can get back to the main menu; every text the views and the engine use exists
and takes the values given to it; every message any state can build, with a demo catalog
and with a stress catalog (long names, many products, a full cart), fits WhatsApp's limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chatcentral.conversation import cart
from chatcentral.conversation.actions import Actions
from chatcentral.conversation.conditions import Conditions
from chatcentral.conversation.context import Context
from chatcentral.conversation.effects import OUTCOME_TRIGGERS
from chatcentral.conversation.facts import (
    Catalog,
    Category,
    CustomerFacts,
    Facts,
    OrderLine,
    OrderSummary,
    Product,
    SavedAddress,
)
from chatcentral.conversation.flow import FlowSpec, Settings, effective
from chatcentral.conversation.machine import Conversation, machine_for
from chatcentral.conversation.model import ENGINE_STATES, ENTERED_FROM_ANYWHERE, HANDOFF, MAIN_MENU
from chatcentral.conversation.shop import Shop
from chatcentral.conversation.views import VIEWS
from chatcentral.whatsapp.outbound import OutboundError, validate

# Texts the engine (not a view) may say in any flow.
ENGINE_TEXTS = (
    "welcome",
    "welcome_back",
    "cancel.done",
    "error.unrecognised",
    "error.unsupported",
    "error.changed",
    "help.body",
    "catalog_cart.missing",
    "cart.added",
    "cart.cleared",
    "order.placed",
    "repeat.unavailable",
    "repeat.repriced",
    "transfer.thanks",
    "rejected.unavailable",
    "rejected.stock",
    "rejected.price",
    "rejected.minimum",
    "rejected.review",
    "hours.order_later",
    "reminders.stopped",
    "reminders.resumed",
    "handoff.still_waiting",
    "minimum.not_met",
    "quantity.invalid",
    "quantity.whole_only",
    "quantity.too_many",
    "quantity.no_stock",
    "cash.invalid",
    "cash.too_low",
    "address.need_postal_code",
)


@dataclass(frozen=True)
class Problem:
    flow: str
    message: str

    def __str__(self) -> str:
        return f"{self.flow}: {self.message}"


def check_flow(flow: FlowSpec, shop_settings: dict[str, Any] | None = None) -> list[Problem]:
    """Every problem found in `flow` (with a shop's overrides, when given); [] when whole."""
    settings, texts = effective(flow, shop_settings or {})
    found = [*_structure(flow), *_graph(flow), *_texts(flow, texts)]
    found += _messages(flow, settings, texts)
    return [Problem(flow.name, message) for message in dict.fromkeys(found)]


def _callbacks(cls: type) -> set[str]:
    """Public methods a class defines itself (not those it inherits from the model)."""
    return {name for name, value in vars(cls).items() if callable(value) and name[0] != "_"}


_CONDITIONS = _callbacks(Conditions) - {"refusal"}
_ACTIONS = _callbacks(Actions)


def _structure(flow: FlowSpec) -> Iterator[str]:
    for state in flow.states:
        if state.view not in VIEWS:
            yield f"state {state.name}: unknown view {state.view!r}"
        if state.skip is not None and state.skip.when not in _CONDITIONS:
            yield f"state {state.name}: unknown condition {state.skip.when!r}"
    for transition in flow.transitions:
        for condition in (*transition.conditions, *transition.unless):
            if condition not in _CONDITIONS:
                yield f"transition {transition.trigger}: unknown condition {condition!r}"
        for action in (*transition.prepare, *transition.before):
            if action not in _ACTIONS:
                yield f"transition {transition.trigger}: unknown action {action!r}"
        if "place_order" in transition.before:
            for trigger in OUTCOME_TRIGGERS.values():
                if not any(
                    t.trigger == trigger and transition.dest in t.sources for t in flow.transitions
                ):
                    yield f"state {transition.dest}: no {trigger!r} transition"
    for required in ENGINE_STATES:
        if not any(state.name == required for state in flow.states):
            yield f"the engine needs a state named {required!r}"


def _edges(flow: FlowSpec) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {state.name: set() for state in flow.states}
    for transition in flow.transitions:
        for source in transition.sources:
            edges[source].add(transition.dest)
    for state in flow.states:
        # The engine's own ways in: global commands, repeated misses, an idle session.
        # ("No, continuar" returns to a state already visited: no new edge.)
        edges[state.name].update(e for e in ENTERED_FROM_ANYWHERE if e in edges)
    return edges


def _graph(flow: FlowSpec) -> Iterator[str]:
    edges = _edges(flow)
    reachable = _walk(edges, flow.initial)
    for state in flow.states:
        if state.name not in reachable:
            yield f"state {state.name} cannot be reached from {flow.initial}"
    declared: dict[str, set[str]] = {state.name: set() for state in flow.states}
    for transition in flow.transitions:
        for source in transition.sources:
            declared[source].add(transition.dest)
    for state in flow.states:
        if MAIN_MENU not in _walk(edges, state.name):
            yield f"state {state.name} cannot get back to {MAIN_MENU}"
        if not declared[state.name] and state.name != HANDOFF:
            yield f"state {state.name} has no way forward (no transition leaves it)"


def _walk(edges: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for target in edges.get(queue.popleft(), ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


class _RecordingTexts(dict[str, str]):
    """Texts that remember which keys were read (to catch missing ones)."""

    def __init__(self, texts: dict[str, str]) -> None:
        super().__init__(texts)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def _texts(flow: FlowSpec, texts: dict[str, str]) -> Iterator[str]:
    for key in ENGINE_TEXTS:
        if key not in texts:
            yield f"text {key!r} is missing"
    sample = {
        "name": "Ana",
        "shop": "Tienda",
        "count": 2,
        "total": "$1.00",
        "subtotal": "$1.00",
        "minimum": "$1.00",
        "typed": "x",
        "unit": "kg",
        "max": 5,
        "stock": "1 kg",
        "lines": "•",
        "number": 1,
        "summary": "•",
        "names": "x",
        "changes": "x",
        "available": "1",
        "old": "$1",
        "new": "$2",
        "refills": 1,
        "held": 1,
        "order": "x",
        "amount": "$1",
        "address": "x",
        "bank": "x",
        "hours": "x",
        "category": "x",
        "description": "x",
        "price": "$1",
        "fulfillment": "x",
        "payment": "x",
        "notes": "x",
        "date": "x",
        "status": "x",
        "changed": "x",
        "opening": "x",
        "admin": "x",
        "text": "x",
        "phone": "x",
        "time": "x",
        "reason": "x",
        "customer": "x",
        "pages": 1,
        "page": 1,
    }
    for key, template in texts.items():
        try:
            template.format(**sample)
        except (KeyError, IndexError, ValueError) as exc:
            yield f"text {key!r} cannot be filled in: {exc}"


def _messages(flow: FlowSpec, settings: Settings, texts: dict[str, str]) -> Iterator[str]:
    recording = _RecordingTexts(texts)
    for label, facts, context in _scenarios(settings):
        for state in flow.states:
            convo = Conversation(
                flow, settings, recording, _shop(flow), state.name, Context(**context), facts
            )
            if state.skip is not None and getattr(convo, state.skip.when)(None):
                continue  # this step is skipped here: its view is never shown
            try:
                messages = VIEWS[state.view](convo)
                convo.flush()
            except KeyError as exc:
                yield f"state {state.name} ({label}): text {exc} is missing"
                continue
            except OutboundError as exc:
                yield f"state {state.name} ({label}): {exc}"
                continue
            except (LookupError, AssertionError):
                continue  # the state needs context this scenario does not have
            for warning in convo.too_long:
                yield f"state {state.name}: {warning}"
            for message in [*convo.replies, *messages]:
                try:
                    validate(message)
                except OutboundError as exc:
                    yield f"state {state.name} ({label}): {exc}"
    machine_for(flow)  # the flow must also build as a transitions machine


def _scenarios(settings: Settings) -> Iterator[tuple[str, Facts, Context]]:
    now = datetime(2026, 1, 6, 17, 0, tzinfo=UTC)
    for label, catalog in (
        ("demo catalog", _catalog(7, 12, 20)),
        ("stress catalog", _catalog(12, 40, 90)),
    ):
        last = OrderSummary(
            id=99999,
            created_at=now,
            status="En preparación",
            status_changed_at=now,
            total=Decimal("99999.99"),
            fulfillment="delivery",
            lines=tuple(
                OrderLine(p.id, p.name, p.unit, Decimal("3"), p.price)
                for p in catalog.products[:12]
            ),
        )
        addresses = tuple(
            SavedAddress(i, "Calle " + "Larga " * 20 + str(i), "06600", 19.4, -99.1)
            for i in range(1, 7)
        )
        customer = CustomerFacts("Ana López", 3, addresses, last)
        history = tuple(replace(last, id=last.id - n) for n in range(12))
        facts = Facts(now=now, catalog_=catalog, customer_=customer, orders_=history)
        full_cart = Context()
        for product in catalog.products[:25]:
            cart.add(full_cart, product, Decimal("12.5"))
        context = Context(
            cart=full_cart.get("cart", []),
            category_id=catalog.categories[0].id,
            product_id=catalog.products[0].id,
            fulfillment="delivery",
            address={"text": "Av. " + "Muy Larga " * 30, "postal_code": "06600"},
            slot_title=settings.delivery_slots[0].title if settings.delivery_slots else None,
            payment_method=settings.payment_methods[0],
            cash_tendered="99999.00",
            notes="Nota " * 100,
            empties=1,
        )
        for page in (0, 1, 5):
            yield f"{label}, page {page}", facts, Context(**context, page=page)
        yield f"{label}, empty cart", facts, Context(category_id=catalog.categories[0].id)
    # A shop whose products are all inactive, or a category emptied while a customer looks.
    bare = Facts(
        now=now,
        catalog_=Catalog(categories=(Category(1, "Vacía"),), products=()),
        customer_=CustomerFacts(None, 0, (), None),
        orders_=(),
    )
    yield "empty catalog", bare, Context(category_id=1)
    yield "empty catalog, no category", bare, Context()


def _catalog(categories: int, per_category: int, name_length: int) -> Catalog:
    cats = tuple(
        Category(i, ("Categoría " + "x" * name_length)[: 10 + name_length // 3] + f" {i}")
        for i in range(1, categories + 1)
    )
    units = ("KG", "PIECE", "BOX", "LITER", "GARRAFON", "UNIT")
    products = tuple(
        Product(
            id=c.id * 1000 + n,
            category_id=c.id,
            name=f"Producto {n} " + "nombre largo " * (name_length // 12),
            description="Descripción " * (name_length // 6),
            price=Decimal("12345.67"),
            unit=units[n % len(units)],
            stock=Decimal("100"),
            # Half with a photo: the product's message is checked with and without one.
            image_key=f"products/tenant_check/{n}/photo.jpg" if n % 2 else None,
        )
        for c in cats
        for n in range(1, per_category + 1)
    )
    return Catalog(categories=cats, products=products)


def _shop(flow: FlowSpec) -> Shop:
    hours = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
    return Shop(
        id=0,
        slug="check",
        schema="tenant_check",
        name="Tienda " + "Con Nombre Largo " * 4,
        phone_number_id="0",
        display_phone="+520000000000",
        flow=flow.name,
        active=True,
        timezone="America/Mexico_City",
        currency="MXN",
        business_hours=hours,
        settings={},
        admin_phones=(),
        access_token_encrypted=None,
    )
