"""A shop kept in memory: the conversation engine with facts and effects but no database.

It plays the part `inbound/` plays for real (current state, facts, effects and their
outcomes, an idle session) closely enough to replay the golden transcripts, so the core
can be tried in milliseconds. What it cannot show (SQL, locks, the outbox) the database
tier covers.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chatcentral.conversation.context import Context
from chatcentral.conversation.decision import decide
from chatcentral.conversation.effects import (
    Effect,
    OrderPlaced,
    OrderRejected,
    Outcome,
    PlaceOrder,
    Problem,
)
from chatcentral.conversation.events import Event
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
from chatcentral.conversation.model import EXPIRED, NEW
from chatcentral.conversation.shop import Shop
from chatcentral.resources import resource_dir
from chatcentral.tenancy.catalog import read_catalog
from chatcentral.whatsapp import outbound

ALWAYS_OPEN = {
    day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def demo_catalog(flow: str) -> Catalog:
    """The shipped demo catalog with the ids provisioning gives it."""
    items = read_catalog(resource_dir("flows") / "catalogs" / f"{flow}.csv")
    names = list(dict.fromkeys(item.category for item in items))
    categories = tuple(Category(i, name) for i, name in enumerate(names, start=1))
    ids = {name: i for i, name in enumerate(names, start=1)}
    products = tuple(
        Product(
            id=i,
            category_id=ids[item.category],
            name=item.name,
            description=item.description,
            price=item.price,
            unit=item.unit.value,
            stock=item.stock,
        )
        for i, item in enumerate(items, start=1)
        if item.active
    )
    return Catalog(categories=categories, products=products)


def demo_shop(flow: str, name: str) -> Shop:
    return Shop(
        id=1,
        slug="memoria",
        schema="tenant_memoria",
        name=name,
        phone_number_id="1",
        display_phone="+520000000000",
        flow=flow,
        active=True,
        timezone="America/Mexico_City",
        currency="MXN",
        business_hours=ALWAYS_OPEN,
        settings={},
        admin_phones=(),
        access_token_encrypted=None,
    )


@dataclass
class MemoryShop:
    shop: Shop
    catalog: Catalog
    customer_name: str | None = None
    state: str = NEW
    context: Context = field(default_factory=Context)
    orders: list[OrderSummary] = field(default_factory=list)
    addresses: list[SavedAddress] = field(default_factory=list)
    jugs_held: int = 0
    effects: list[Effect] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def expire(self) -> None:
        """The session went idle: the next message finds it expired."""
        self.context = Context(previous_state=self.state, previous=self.context)
        self.state = EXPIRED

    def send(self, event: Event) -> list[dict[str, Any]]:
        """One customer message; the replies as the Cloud API would receive them."""
        decision = decide(self.shop, self.state, self.context, event, self._facts())
        replies = list(decision.replies)
        for effect in decision.effects:
            self.effects.append(effect)
            outcome = self._apply(effect)
            if outcome is not None:
                decision = decide(
                    self.shop, decision.state, decision.context, outcome, self._facts()
                )
                replies.extend(decision.replies)
        self.state, self.context = decision.state, decision.context
        return [outbound.envelope(reply, to="+5215500000000") for reply in replies]

    def _facts(self) -> Facts:
        newest_first = tuple(reversed(self.orders))
        customer = CustomerFacts(
            name=self.customer_name,
            jugs_held=self.jugs_held,
            addresses=tuple(reversed(self.addresses))[:5],
            last_order=newest_first[0] if newest_first else None,
        )
        return Facts(
            now=datetime.now(UTC),
            catalog_=self.catalog,
            customer_=customer,
            orders_=newest_first[:10],
        )

    def _apply(self, effect: Effect) -> Outcome | None:
        if isinstance(effect, PlaceOrder):
            return self._place(effect)
        return None

    def _place(self, order: PlaceOrder) -> OrderPlaced | OrderRejected:
        subtotal = sum((line.total for line in order.lines), Decimal("0"))
        if subtotal < order.minimum_order:
            return OrderRejected((Problem("rejected.minimum", {"minimum": "x"}),), ())
        now = datetime.now(UTC)
        total = subtotal + order.delivery_fee + order.deposit
        summary = OrderSummary(
            id=next(self._ids),
            created_at=now,
            status="Pendiente",
            status_changed_at=now,
            total=total,
            fulfillment=order.fulfillment,
            lines=tuple(
                OrderLine(line.product_id, line.name, line.unit, line.quantity, line.price)
                for line in order.lines
            ),
        )
        self.orders.append(summary)
        self._take_stock(order)
        self.jugs_held = max(0, self.jugs_held + order.jugs_delivered - order.empties)
        address = order.address
        if order.fulfillment == "delivery" and address and not address.get("address_id"):
            self.addresses.append(
                SavedAddress(
                    id=len(self.addresses) + 1,
                    text=address.get("text"),
                    postal_code=address.get("postal_code"),
                    latitude=address.get("latitude"),
                    longitude=address.get("longitude"),
                )
            )
        return OrderPlaced(order_id=summary.id, total=total)

    def _take_stock(self, order: PlaceOrder) -> None:
        taken = {line.product_id: line.quantity for line in order.lines}
        self.catalog = dataclasses.replace(
            self.catalog,
            products=tuple(
                dataclasses.replace(p, stock=p.stock - taken[p.id])
                if p.stock is not None and p.id in taken
                else p
                for p in self.catalog.products
            ),
        )
