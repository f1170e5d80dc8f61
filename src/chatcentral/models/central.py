"""Tables of the `central` schema: the shop registry, plans, usage, audit log and outbox.

Nothing here has a foreign key into a tenant schema (Citus schema-based sharding needs
that): rows that point at tenant data carry plain ids.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CENTRAL_SCHEMA = "central"


class CentralBase(DeclarativeBase):
    metadata = MetaData(schema=CENTRAL_SCHEMA)


def _pk() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Plan(CentralBase):
    """A subscription plan: Básico, Completo or Premium."""

    __tablename__ = "plans"

    id: Mapped[int] = _pk()
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    monthly_message_quota: Mapped[int] = mapped_column(Integer)
    active_product_limit: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    monthly_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class Tenant(CentralBase):
    """One shop: its WhatsApp number, flow, plan, admins and where its data lives."""

    __tablename__ = "tenants"

    id: Mapped[int] = _pk()
    slug: Mapped[str] = mapped_column(Text, unique=True)
    schema_name: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    phone_number_id: Mapped[str] = mapped_column(Text, unique=True)
    display_phone: Mapped[str] = mapped_column(Text)
    flow: Mapped[str] = mapped_column(Text)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    admin_phones: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    timezone: Mapped[str] = mapped_column(Text, server_default="America/Mexico_City")
    currency: Mapped[str] = mapped_column(Text, server_default="MXN")
    business_hours: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    # Per-tenant overrides of flow texts and settings (minimum order, zones, payment methods…).
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Fernet ciphertext of the shop's own Graph API token; NULL means the default token.
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    waba_id: Mapped[str | None] = mapped_column(Text)  # WhatsApp Business Account (templates)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class MonthlyUsage(CentralBase):
    """Messages and orders counted per tenant per calendar month (plan quotas)."""

    __tablename__ = "monthly_usage"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    inbound_messages: Mapped[int] = mapped_column(Integer, server_default="0")
    outbound_messages: Mapped[int] = mapped_column(Integer, server_default="0")
    orders: Mapped[int] = mapped_column(Integer, server_default="0")


class AuditLog(CentralBase):
    """Administrative actions: who did what to which tenant, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = _pk()
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_audit_log_tenant_created", "tenant_id", "created_at"),)


class ApiKey(CentralBase):
    """A key to a shop's admin API (`/api/v1`). Only the SHA-256 of the key is kept; the
    prefix (its first characters) names it in listings and revocations."""

    __tablename__ = "api_keys"

    id: Mapped[int] = _pk()
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_api_keys_tenant", "tenant_id", "id"),)


class PanelLogin(CentralBase):
    """A one-time link to the web panel sent to an admin's WhatsApp: valid ten minutes,
    used once. Only the SHA-256 of its token is kept."""

    __tablename__ = "panel_logins"

    id: Mapped[int] = _pk()
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    phone: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PanelSession(CentralBase):
    """A browser signed in to one shop's panel; the cookie holds the token, this row its
    SHA-256 and the CSRF token every form of the session carries."""

    __tablename__ = "panel_sessions"

    id: Mapped[int] = _pk()
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    phone: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    csrf_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PanelAttempt(CentralBase):
    """One request for a login link, counted per bucket (`phone:+52…`, `ip:…`)."""

    __tablename__ = "panel_attempts"

    id: Mapped[int] = _pk()
    bucket: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_panel_attempts_bucket", "bucket", "created_at"),)


class Outbox(CentralBase):
    """A Graph API call waiting to be made, written in the same transaction as its cause.

    `recipient` orders delivery: the dispatcher never sends a row while an older pending
    row of the same (tenant, recipient) exists. `message_id` points at the tenant's
    `messages` row (no foreign key: it lives in another schema).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = _pk()
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Sent instead when Meta refuses `payload` for a closed 24-hour window (131047).
    fallback: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The customer's message to mark read right after this reply is accepted (no outbox
    # row of its own: a lost mark-read is harmless).
    mark_read_wamid: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    due_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_outbox_pending_id", "id", postgresql_where=text("status = 'pending'")),
        Index(
            "ix_outbox_pending_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_outbox_pending_recipient",
            "tenant_id",
            "recipient",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class UnhandledUpdate(CentralBase):
    """Webhook content the bot does not act on (other fields, unknown numbers, unparseable
    items), kept raw for inspection: Meta offers no API to fetch past webhooks."""

    __tablename__ = "unhandled_updates"

    id: Mapped[int] = _pk()
    phone_number_id: Mapped[str | None] = mapped_column(Text)
    field: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_unhandled_updates_received", "received_at"),)
