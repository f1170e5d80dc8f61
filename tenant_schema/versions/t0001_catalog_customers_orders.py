"""shop catalog, customers, orders

Revision ID: t0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("wa_id", sa.Text(), nullable=True),
        sa.Column("bsuid", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("jugs_held", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("wa_id IS NOT NULL OR bsuid IS NOT NULL", name="customer_identified"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bsuid"),
        sa.UniqueConstraint("wa_id"),
    )
    op.create_table(
        "order_status",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_final", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "customer_addresses",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("address_text", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_used_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_customer_addresses_customer",
        "customer_addresses",
        ["customer_id", "last_used_at"],
        unique=False,
    )
    op.create_table(
        "products",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("stock", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("image_key", sa.Text(), nullable=True),
        sa.Column("retailer_id", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
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
        sa.CheckConstraint(
            "unit IN ('KG','UNIT','LITER','PIECE','BOX','GARRAFON')", name="unit_known"
        ),
        sa.CheckConstraint("price >= 0", name="price_not_negative"),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("retailer_id"),
    )
    op.create_index(
        "ix_products_active_category",
        "products",
        ["category_id", "position", "id"],
        unique=False,
        postgresql_where=sa.text("active"),
    )
    op.create_index("uq_products_category_name", "products", ["category_id", "name"], unique=True)
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("fulfillment", sa.Text(), nullable=False),
        sa.Column("address_id", sa.BigInteger(), nullable=True),
        sa.Column("address_text", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("delivery_slot", sa.Text(), nullable=True),
        sa.Column("payment_method", sa.Text(), nullable=True),
        sa.Column("cash_tendered", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("payment_proof_media_id", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("subtotal", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "delivery_fee", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False
        ),
        sa.Column("deposit", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.Text(), server_default="MXN", nullable=False),
        sa.Column("source_wamid", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "status_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("fulfillment IN ('delivery','pickup')", name="fulfillment_known"),
        sa.CheckConstraint("total >= 0", name="total_not_negative"),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["customer_addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["order_status.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_wamid"),
    )
    op.create_index(
        "ix_orders_customer_latest",
        "orders",
        ["customer_id", sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index("ix_orders_status", "orders", ["status_id", "id"], unique=False)
    op.create_table(
        "order_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("from_status_id", sa.BigInteger(), nullable=True),
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["from_status_id"],
            ["order_status.id"],
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["order_status.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_history_order", "order_history", ["order_id", "id"], unique=False)
    op.create_table(
        "order_items",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=True),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("line_total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_items_order", "order_items", ["order_id"], unique=False)

    # A full Table (not sa.table) so the tenant schema translation applies to the insert.
    status = sa.Table(
        "order_status",
        sa.MetaData(),
        sa.Column("code", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("position", sa.Integer),
        sa.Column("is_final", sa.Boolean),
    )
    op.bulk_insert(
        status,
        [
            {"code": "pendiente", "name": "Pendiente", "position": 1, "is_final": False},
            {"code": "confirmado", "name": "Confirmado", "position": 2, "is_final": False},
            {"code": "en_preparacion", "name": "En preparación", "position": 3, "is_final": False},
            {"code": "en_camino", "name": "En camino", "position": 4, "is_final": False},
            {"code": "entregado", "name": "Entregado", "position": 5, "is_final": True},
            {"code": "cancelado", "name": "Cancelado", "position": 6, "is_final": True},
        ],
    )


def downgrade() -> None:
    for table in (
        "order_items",
        "order_history",
        "orders",
        "products",
        "customer_addresses",
        "order_status",
        "customers",
        "categories",
    ):
        op.drop_table(table)
