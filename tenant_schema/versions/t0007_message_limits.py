"""message limits: each customer's one-minute window, notices given once

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0007"
down_revision: str | None = "t0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str:
    # ALTER statements are not mapped by schema_translate_map: name the tenant's schema.
    return str(op.get_context().opts["version_table_schema"])


def upgrade() -> None:
    schema = _schema()
    # The customer's rate-limit window, kept on the session row the message path locks.
    op.add_column(
        "customer_sessions",
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.add_column(
        "customer_sessions",
        sa.Column("window_count", sa.Integer(), server_default="0", nullable=False),
        schema=schema,
    )
    op.add_column(
        "customer_sessions",
        sa.Column("window_noticed", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema=schema,
    )
    # A notice the shop gets once per period (e.g. the plan's quota reached this month).
    op.create_table(
        "shop_notices",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("kind", "period"),
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_table("shop_notices")
    for column in ("window_noticed", "window_count", "window_started_at"):
        op.drop_column("customer_sessions", column, schema=schema)
