"""Customers: the list (search, cursor pages), one with their addresses and orders, and
`forget`, which erases who they were (name, phone, addresses, the text of every message
to or about them) and keeps their orders' totals, anonymised, for the shop's accounts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, func, insert, or_, select

from chatcentral.api import pages
from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.api.fields import Short
from chatcentral.api.forget import FORGOTTEN, forget
from chatcentral.api.orders import OrderSummary, summaries
from chatcentral.api.problems import not_found
from chatcentral.models.central import AuditLog
from chatcentral.models.tenant import Customer, CustomerAddress, Order

ORDERS_SHOWN = 50


class CustomerOut(BaseModel):
    id: int
    name: str | None
    phone: str | None = Field(description="WhatsApp number, digits only")
    created_at: datetime
    last_message_at: datetime | None
    orders: int
    forgotten: bool


class CustomerPage(pages.Page[CustomerOut]):
    pass


class Address(BaseModel):
    label: str | None
    address: str | None
    postal_code: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    last_used_at: datetime


class CustomerDetail(CustomerOut):
    jugs_held: int = Field(description="water delivery: full jugs held (delivered - returned)")
    reminders_opt_out: bool
    addresses: list[Address]
    recent_orders: list[OrderSummary] = Field(description="the latest 50, newest first")


class CustomerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: Short | None = Field(default=None, description="part of the name or the number")
    cursor: pages.Cursor | None = None
    limit: pages.Limit = pages.PAGE_DEFAULT


_ORDERS = (
    select(func.count()).where(Order.customer_id == Customer.id).scalar_subquery().label("orders")
)
_CUSTOMER = select(
    Customer.id,
    Customer.name,
    Customer.wa_id,
    Customer.bsuid,
    Customer.created_at,
    Customer.last_inbound_at,
    Customer.jugs_held,
    Customer.reminders_opt_out,
    _ORDERS,
)


def _out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "phone": row.wa_id,
        "created_at": row.created_at,
        "last_message_at": row.last_inbound_at,
        "orders": row.orders,
        "forgotten": row.wa_id is None and (row.bsuid or "").startswith(FORGOTTEN),
    }


async def list_customers(call: Call) -> CustomerPage:
    """Customers, newest first, a page at a time."""
    q = call.query(CustomerQuery)
    conditions: list[ColumnElement[bool]] = []
    if q.search is not None:
        pattern = pages.containing(q.search)
        conditions.append(
            or_(
                Customer.name.ilike(pattern, escape=pages.LIKE_ESCAPE),
                Customer.wa_id.like(pattern, escape=pages.LIKE_ESCAPE),
            )
        )
    if q.cursor is not None:
        conditions.append(Customer.id < pages.decode(q.cursor))
    query = _CUSTOMER.where(and_(True, *conditions)).order_by(Customer.id.desc())
    rows = (await call.conn.execute(query.limit(q.limit + 1))).all()
    items = [CustomerOut.model_validate(_out(row)) for row in rows]
    shown, cursor = pages.page(items, [item.id for item in items], q.limit)
    return CustomerPage(items=shown, next_cursor=cursor)


async def _detail(call: Call, customer_id: int) -> CustomerDetail:
    row = (await call.conn.execute(_CUSTOMER.where(Customer.id == customer_id))).first()
    if row is None:
        raise not_found(f"no customer {customer_id} in this shop")
    addresses = (
        await call.conn.execute(
            select(
                CustomerAddress.label,
                CustomerAddress.address_text.label("address"),
                CustomerAddress.postal_code,
                CustomerAddress.latitude,
                CustomerAddress.longitude,
                CustomerAddress.last_used_at,
            )
            .where(CustomerAddress.customer_id == customer_id)
            .order_by(CustomerAddress.last_used_at.desc())
        )
    ).all()
    orders = await summaries(call.conn, Order.customer_id == customer_id, limit=ORDERS_SHOWN)
    return CustomerDetail.model_validate(
        {
            **_out(row),
            "jugs_held": row.jugs_held,
            "reminders_opt_out": row.reminders_opt_out,
            "addresses": [a._asdict() for a in addresses],
            "recent_orders": orders,
        }
    )


async def get_customer(call: Call) -> CustomerDetail:
    """One customer with their addresses and latest orders."""
    return await _detail(call, call.path["customer_id"])


async def forget_customer(call: Call) -> CustomerDetail:
    """Erase the customer's name, number, addresses and the text of their messages; their
    orders stay, with totals and items, tied to no one. Cannot be undone. Audited."""
    customer_id = call.path["customer_id"]
    shop = call.caller.shop
    erased = await forget(call.conn, shop.id, customer_id)
    if erased is None:
        raise not_found(f"no customer {customer_id} in this shop")
    await call.conn.execute(
        insert(AuditLog).values(
            tenant_id=shop.id,
            actor=call.caller.principal.actor,
            action="customer.forget",
            details={"customer_id": customer_id, **erased},
        )
    )
    return await _detail(call, customer_id)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/customers",
        list_customers,
        "List customers, newest first",
        "customers",
        response=CustomerPage,
        query=CustomerQuery,
    ),
    Endpoint(
        "GET",
        "/customers/{customer_id:int}",
        get_customer,
        "One customer with addresses and latest orders",
        "customers",
        response=CustomerDetail,
        problems=(404,),
    ),
    Endpoint(
        "POST",
        "/customers/{customer_id:int}/forget",
        forget_customer,
        "Erase a customer's personal data (orders kept, anonymised)",
        "customers",
        response=CustomerDetail,
        problems=(404,),
        description=(
            "Erases the name, the WhatsApp number, every address, the order addresses, "
            "notes and receipts, and the text of every message to, from or about the "
            "customer (the shop's own copies and the sent calls in the outbox). Orders "
            "keep their items and totals. A message already queued and not yet sent "
            "still leaves. Repeating it changes nothing."
        ),
    ),
)
