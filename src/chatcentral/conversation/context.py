"""The session context: what a conversation remembers between messages, stored as JSON.

Every key the engine reads or writes is declared here, with its JSON type: quantities
and money travel as strings (never floats), ids as integers. A key that is absent means
"not chosen yet".
"""

from __future__ import annotations

from typing import Any, TypedDict, cast


class CartItem(TypedDict):
    product_id: int
    name: str
    unit: str
    price: str
    quantity: str


class Address(TypedDict, total=False):
    address_id: int  # a saved address the customer picked
    text: str | None
    postal_code: str | None
    latitude: float | None
    longitude: float | None


class Context(TypedDict, total=False):
    # Navigation
    options: list[list[str]]  # [id, title] of what was last offered, for typed answers
    page: int
    misses: int  # misunderstood messages in a row
    return_to: str  # the state to go back to after a question
    # Browsing
    category_id: int
    product_id: int
    quantity: str  # read and checked, waiting to go into the cart
    cart: list[CartItem]
    # Checkout
    fulfillment: str  # "delivery" or "pickup"
    address: Address
    zone: dict[str, Any] | None  # the delivery zone found for the address
    slot: str | None
    slot_title: str | None
    payment_method: str
    cash_tendered: str
    receipt_media_id: str | None
    notes: str | None
    empties: int  # empty jugs handed back (water shops)
    # Order status
    order_id: int
    # An idle session handed to the engine as `expired`
    previous_state: str
    previous: Context


def as_context(value: Any) -> Context:
    """The context stored in a session row (JSON), or an empty one."""
    return cast(Context, dict(value)) if isinstance(value, dict) else Context()
