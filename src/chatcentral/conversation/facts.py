"""What the engine may know about the world, loaded by the service before it decides.

The engine does no I/O. Each fact is loaded only when a state needs it: reading a fact
that was not loaded raises `MissingFacts`, the engine returns the kinds it needs, and the
service loads them and asks again (the catalog comes from a per-shop cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

CATALOG = "catalog"
CUSTOMER = "customer"
ORDERS = "orders"


class MissingFacts(Exception):
    def __init__(self, *kinds: str) -> None:
        super().__init__(", ".join(kinds))
        self.kinds = frozenset(kinds)


@dataclass(frozen=True)
class Product:
    id: int
    category_id: int
    name: str
    description: str | None
    price: Decimal
    unit: str
    stock: Decimal | None
    retailer_id: str | None = None
    image_key: str | None = None  # its photo in the media store (products/photos.py)


@dataclass(frozen=True)
class Category:
    id: int
    name: str


@dataclass(frozen=True)
class Catalog:
    """Active categories and products, in display order."""

    categories: tuple[Category, ...]
    products: tuple[Product, ...]

    def product(self, product_id: int) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    def in_category(self, category_id: int) -> list[Product]:
        return [p for p in self.products if p.category_id == category_id]

    def by_retailer_id(self, retailer_id: str) -> Product | None:
        return next((p for p in self.products if p.retailer_id == retailer_id), None)


@dataclass(frozen=True)
class OrderLine:
    product_id: int | None
    name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class OrderSummary:
    id: int
    created_at: datetime
    status: str  # display name, e.g. "En camino"
    status_changed_at: datetime
    total: Decimal
    fulfillment: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class SavedAddress:
    id: int
    text: str | None
    postal_code: str | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class CustomerFacts:
    name: str | None
    jugs_held: int
    addresses: tuple[SavedAddress, ...]
    last_order: OrderSummary | None


@dataclass
class Facts:
    now: datetime
    catalog_: Catalog | None = None
    customer_: CustomerFacts | None = None
    orders_: tuple[OrderSummary, ...] | None = field(default=None)

    @property
    def catalog(self) -> Catalog:
        if self.catalog_ is None:
            raise MissingFacts(CATALOG)
        return self.catalog_

    @property
    def customer(self) -> CustomerFacts:
        if self.customer_ is None:
            raise MissingFacts(CUSTOMER)
        return self.customer_

    @property
    def orders(self) -> tuple[OrderSummary, ...]:
        """The customer's recent orders, newest first."""
        if self.orders_ is None:
            raise MissingFacts(ORDERS)
        return self.orders_
