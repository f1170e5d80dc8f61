"""Tables of one shop, declared once without a schema.

Each shop's rows live in its own schema `tenant_<slug>`; `TenantBinder` (db.engine) maps
the empty schema onto it per request. Keys are bigint identities and every foreign key
stays inside the tenant's schema. Money is NUMERIC, read as `Decimal`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MONEY = Numeric(12, 2)
QUANTITY = Numeric(12, 3)


class Unit(StrEnum):
    KG = "KG"
    UNIT = "UNIT"
    LITER = "LITER"
    PIECE = "PIECE"
    BOX = "BOX"
    GARRAFON = "GARRAFON"


# Units sold by weight or volume accept fractions (1.5 kg); the others whole numbers only.
FRACTIONAL_UNITS = frozenset({Unit.KG, Unit.LITER})


class StatusCode(StrEnum):
    """Codes of the order statuses seeded by the first tenant migration."""

    PENDING = "pendiente"
    CONFIRMED = "confirmado"
    PREPARING = "en_preparacion"
    ON_THE_WAY = "en_camino"
    DELIVERED = "entregado"
    CANCELLED = "cancelado"


class TenantBase(DeclarativeBase):
    metadata = MetaData()


def _pk() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Customer(TenantBase):
    """A person who wrote to the shop, keyed on the business-scoped id and/or the phone."""

    __tablename__ = "customers"

    id: Mapped[int] = _pk()
    wa_id: Mapped[str | None] = mapped_column(Text, unique=True)
    bsuid: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    # Water delivery: full jugs delivered minus empty ones returned.
    jugs_held: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders_opt_out: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("wa_id IS NOT NULL OR bsuid IS NOT NULL", name="customer_identified"),
    )


class CustomerAddress(TenantBase):
    __tablename__ = "customer_addresses"

    id: Mapped[int] = _pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    label: Mapped[str | None] = mapped_column(Text)
    address_text: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_customer_addresses_customer", "customer_id", "last_used_at"),)


class Category(TenantBase):
    __tablename__ = "categories"

    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(Text, unique=True)
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Product(TenantBase):
    __tablename__ = "products"

    id: Mapped[int] = _pk()
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(MONEY)
    unit: Mapped[str] = mapped_column(Text)
    # NULL stock means "not tracked": always available.
    stock: Mapped[Decimal | None] = mapped_column(QUANTITY)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    image_key: Mapped[str | None] = mapped_column(Text)
    # Matches WhatsApp catalog carts (`product_retailer_id`) to products.
    retailer_id: Mapped[str | None] = mapped_column(Text, unique=True)
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint(
            "unit IN ('KG','UNIT','LITER','PIECE','BOX','GARRAFON')", name="unit_known"
        ),
        Index("uq_products_category_name", "category_id", "name", unique=True),
        Index(
            "ix_products_active_category",
            "category_id",
            "position",
            "id",
            postgresql_where=text("active"),
        ),
    )


class OrderStatus(TenantBase):
    __tablename__ = "order_status"

    id: Mapped[int] = _pk()
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    is_final: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Order(TenantBase):
    __tablename__ = "orders"

    id: Mapped[int] = _pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status_id: Mapped[int] = mapped_column(ForeignKey("order_status.id"))
    fulfillment: Mapped[str] = mapped_column(Text)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("customer_addresses.id"))
    address_text: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    delivery_slot: Mapped[str | None] = mapped_column(Text)
    payment_method: Mapped[str | None] = mapped_column(Text)
    cash_tendered: Mapped[Decimal | None] = mapped_column(MONEY)
    payment_proof_media_id: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    delivery_fee: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    deposit: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    total: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(Text, server_default="MXN")
    # The inbound message that confirmed the order: a redelivered webhook cannot order twice.
    source_wamid: Mapped[str | None] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = _now()
    status_changed_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("fulfillment IN ('delivery','pickup')", name="fulfillment_known"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_orders_customer_latest", "customer_id", text("id DESC")),
        Index("ix_orders_status", "status_id", "id"),
    )


class OrderItem(TenantBase):
    __tablename__ = "order_items"

    id: Mapped[int] = _pk()
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    # Snapshots: the order reads the same after the catalog changes.
    product_name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    line_total: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_order_items_order", "order_id"),
    )


class OrderHistory(TenantBase):
    """Every status an order entered, when, and who moved it."""

    __tablename__ = "order_history"

    id: Mapped[int] = _pk()
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    from_status_id: Mapped[int | None] = mapped_column(ForeignKey("order_status.id"))
    status_id: Mapped[int] = mapped_column(ForeignKey("order_status.id"))
    changed_by: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_order_history_order", "order_id", "id"),)


class CustomerSession(TenantBase):
    """Where a customer's conversation stands; locked per message (SELECT … FOR UPDATE)."""

    __tablename__ = "customer_sessions"

    id: Mapped[int] = _pk()
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    version: Mapped[int] = mapped_column(Integer, server_default="0")
    # WhatsApp timestamp of the newest message handled: older ones never move the state back.
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The customer's rate-limit window (`conversation/limits.py`).
    window_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_count: Mapped[int] = mapped_column(Integer, server_default="0")
    window_noticed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class ShopNotice(TenantBase):
    """A notice the shop's admins get once per period: inserted first, told only if new."""

    __tablename__ = "shop_notices"

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = _now()


class WebhookEndpoint(TenantBase):
    """A URL of the shop's own systems that hears of its orders (outgoing/)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = _pk()
    url: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = _now()
    last_status: Mapped[str | None] = mapped_column(Text)
    last_code: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class Message(TenantBase):
    """Every message in and out. Inbound rows dedupe Meta's retries on `wamid`."""

    __tablename__ = "messages"

    id: Mapped[int] = _pk()
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    direction: Mapped[str] = mapped_column(Text)
    wamid: Mapped[str | None] = mapped_column(Text, unique=True)
    type: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    error_code: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    status_updated_at: Mapped[datetime] = _now()
    # Relayed to or from staff during a handoff (a reply to it reaches that handoff).
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoffs.id", ondelete="SET NULL", name="fk_messages_handoff")
    )
    # Inbound media kept by the worker (media/). A trigger marks every inbound image,
    # video, audio, document or sticker 'pending' as it is inserted (tenant migration
    # t0006); the media job then moves it to 'stored' or, after its tries, 'failed'.
    media_state: Mapped[str | None] = mapped_column(Text)
    media_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    media_next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    media_error: Mapped[str | None] = mapped_column(Text)
    media_key: Mapped[str | None] = mapped_column(Text)  # object key in the media store
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_mime: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(Text)  # hex

    __table_args__ = (
        CheckConstraint("direction IN ('in','out')", name="direction_known"),
        CheckConstraint("media_state IN ('pending','stored','failed')", name="media_state_known"),
        Index("ix_messages_customer", "customer_id", "id"),
        Index(
            "ix_messages_media_due",
            "media_next_at",
            postgresql_where=text("media_state = 'pending'"),
        ),
    )


class MessageStatus(TenantBase):
    """Each status webhook once: (wamid, status) is unique, so Meta's retries are no-ops.

    Rows may arrive before the dispatcher has stored the wamid on its message; the
    dispatcher reads them back when it does.
    """

    __tablename__ = "message_statuses"

    id: Mapped[int] = _pk()
    wamid: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    error_code: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = _now()

    __table_args__ = (Index("uq_message_statuses_wamid_status", "wamid", "status", unique=True),)


class Notification(TenantBase):
    """Something the shop's staff must hear about (a new order, a customer asking for a
    person), recorded in the transaction that caused it and delivered later."""

    __tablename__ = "notifications"

    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_notifications_pending", "id", postgresql_where=text("delivered_at IS NULL")),
    )


class Handoff(TenantBase):
    """A customer asked for a person; open until staff close it or the customer leaves."""

    __tablename__ = "handoffs"

    id: Mapped[int] = _pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text, server_default="open")
    reason: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = _now()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The customer's oldest message no one has answered yet (the timeout's clock).
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    timed_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('open','claimed','closed')", name="handoff_status_known"),
        Index(
            "uq_handoffs_one_open",
            "customer_id",
            unique=True,
            postgresql_where=text("status <> 'closed'"),
        ),
    )


class Staff(TenantBase):
    """An admin phone as the shop's number knows it: its 24-hour window (last message
    in), the admin conversation's state, and notifications that never arrived."""

    __tablename__ = "staff"

    id: Mapped[int] = _pk()
    wa_id: Mapped[str] = mapped_column(Text, unique=True)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text, server_default="admin_menu")
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    undelivered: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()
