"""The cart as it lives in the session context (JSON), and money and quantity formatting.

Quantities and prices travel as strings so the context stays JSON and never turns a
price into a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from chatcentral.conversation.context import CartItem, Context
from chatcentral.conversation.facts import Catalog, OrderSummary, Product

CENT = Decimal("0.01")
FRACTIONAL_UNITS = frozenset({"KG", "LITER"})
UNIT_LABELS = {
    "KG": ("kg", "kg"),
    "LITER": ("L", "L"),
    "UNIT": ("unidad", "unidades"),
    "PIECE": ("pieza", "piezas"),
    "BOX": ("paquete", "paquetes"),
    "GARRAFON": ("garrafón", "garrafones"),
}


def money(amount: Decimal) -> str:
    return f"${amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def quantity_label(quantity: Decimal, unit: str) -> str:
    singular, plural = UNIT_LABELS.get(unit, ("", ""))
    number = format(quantity.normalize(), "f") if quantity % 1 else str(int(quantity))
    return f"{number} {singular if quantity == 1 else plural}".strip()


@dataclass(frozen=True)
class Line:
    product_id: int
    name: str
    unit: str
    price: Decimal
    quantity: Decimal

    @property
    def total(self) -> Decimal:
        return (self.price * self.quantity).quantize(CENT, rounding=ROUND_HALF_UP)

    def describe(self) -> str:
        return f"{quantity_label(self.quantity, self.unit)} {self.name} — {money(self.total)}"


def lines(context: Context) -> list[Line]:
    return [
        Line(
            product_id=int(item["product_id"]),
            name=str(item["name"]),
            unit=str(item["unit"]),
            price=Decimal(item["price"]),
            quantity=Decimal(item["quantity"]),
        )
        for item in context.get("cart", [])
    ]


def subtotal(context: Context) -> Decimal:
    return sum((line.total for line in lines(context)), Decimal("0.00"))


def add(context: Context, product: Product, quantity: Decimal) -> None:
    """Add to the cart, merging with a line of the same product."""
    cart = context.setdefault("cart", [])
    for item in cart:
        if item["product_id"] == product.id:
            item["quantity"] = str(Decimal(item["quantity"]) + quantity)
            item["price"] = str(product.price)
            return
    cart.append(
        CartItem(
            product_id=product.id,
            name=product.name,
            unit=product.unit,
            price=str(product.price),
            quantity=str(quantity),
        )
    )


def remove(context: Context, product_id: int) -> bool:
    cart = context.get("cart", [])
    kept = [item for item in cart if item["product_id"] != product_id]
    context["cart"] = kept
    return len(kept) != len(cart)


def count(context: Context) -> int:
    return len(context.get("cart", []))


@dataclass(frozen=True)
class Rebuilt:
    """A cart rebuilt from an earlier order, with what could not come along."""

    unavailable: list[str]
    repriced: list[str]


def rebuild_from(context: Context, order: OrderSummary, catalog: Catalog) -> Rebuilt:
    """Refill the cart from a past order at today's prices and availability."""
    context["cart"] = []
    unavailable: list[str] = []
    repriced: list[str] = []
    for line in order.lines:
        product = catalog.product(line.product_id) if line.product_id else None
        if product is None or (product.stock is not None and product.stock < line.quantity):
            unavailable.append(line.name)
            continue
        if product.price != line.unit_price:
            repriced.append(f"{product.name}: {money(line.unit_price)} → {money(product.price)}")
        add(context, product, line.quantity)
    return Rebuilt(unavailable=unavailable, repriced=repriced)


def summary_lines(context: Context) -> list[str]:
    return [f"• {line.describe()}" for line in lines(context)]
