"""central registry, plans, usage, audit log, outbox

Revision ID: c0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("monthly_message_quota", sa.Integer(), nullable=False),
        sa.Column("active_product_limit", sa.Integer(), nullable=False),
        sa.Column(
            "features",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("monthly_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        schema="central",
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("schema_name", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone_number_id", sa.Text(), nullable=False),
        sa.Column("display_phone", sa.Text(), nullable=False),
        sa.Column("flow", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("admin_phones", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("timezone", sa.Text(), server_default="America/Mexico_City", nullable=False),
        sa.Column("currency", sa.Text(), server_default="MXN", nullable=False),
        sa.Column(
            "business_hours",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["central.plans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone_number_id"),
        sa.UniqueConstraint("schema_name"),
        sa.UniqueConstraint("slug"),
        schema="central",
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["central.tenants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="central",
    )
    op.create_index(
        "ix_audit_log_tenant_created",
        "audit_log",
        ["tenant_id", "created_at"],
        unique=False,
        schema="central",
    )
    op.create_table(
        "monthly_usage",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("inbound_messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("outbound_messages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("orders", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["central.tenants.id"],
        ),
        sa.PrimaryKeyConstraint("tenant_id", "month"),
        schema="central",
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "due_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["central.tenants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="central",
    )
    op.create_index(
        "ix_outbox_pending_due",
        "outbox",
        ["due_at"],
        unique=False,
        schema="central",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_outbox_pending_recipient",
        "outbox",
        ["tenant_id", "recipient", "id"],
        unique=False,
        schema="central",
        postgresql_where=sa.text("status = 'pending'"),
    )

    plans = sa.table(
        "plans",
        sa.column("code", sa.Text),
        sa.column("name", sa.Text),
        sa.column("monthly_message_quota", sa.Integer),
        sa.column("active_product_limit", sa.Integer),
        sa.column("features", postgresql.JSONB),
        sa.column("monthly_price", sa.Numeric),
        schema="central",
    )
    op.bulk_insert(
        plans,
        [
            {
                "code": "basic",
                "name": "Básico",
                "monthly_message_quota": 2000,
                "active_product_limit": 50,
                "features": ["catalog", "orders", "order_status"],
                "monthly_price": 299,
            },
            {
                "code": "complete",
                "name": "Completo",
                "monthly_message_quota": 10000,
                "active_product_limit": 300,
                "features": [
                    "catalog",
                    "orders",
                    "order_status",
                    "handoff",
                    "delivery_zones",
                    "repeat_order",
                    "admin_notifications",
                ],
                "monthly_price": 699,
            },
            {
                "code": "premium",
                "name": "Premium",
                "monthly_message_quota": 50000,
                "active_product_limit": 3000,
                "features": [
                    "catalog",
                    "orders",
                    "order_status",
                    "handoff",
                    "delivery_zones",
                    "repeat_order",
                    "admin_notifications",
                    "admin_api",
                    "media_archive",
                    "whatsapp_catalog",
                ],
                "monthly_price": 1499,
            },
        ],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_pending_recipient",
        table_name="outbox",
        schema="central",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(
        "ix_outbox_pending_due",
        table_name="outbox",
        schema="central",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("outbox", schema="central")
    op.drop_table("monthly_usage", schema="central")
    op.drop_index("ix_audit_log_tenant_created", table_name="audit_log", schema="central")
    op.drop_table("audit_log", schema="central")
    op.drop_table("tenants", schema="central")
    op.drop_table("plans", schema="central")
