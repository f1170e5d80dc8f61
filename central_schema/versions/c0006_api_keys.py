"""api_keys: per-shop keys to the admin API, stored as hashes

Revision ID: c0006
Revises: c0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0006"
down_revision: str | None = "c0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The key itself is shown once at creation; only its SHA-256 is kept (a random
    # 256-bit token needs no slow hash: there is nothing to guess from the digest).
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger(), sa.ForeignKey("central.tenants.id"), nullable=False
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False, unique=True),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        schema="central",
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant_id", "id"], schema="central")


def downgrade() -> None:
    op.drop_index("ix_api_keys_tenant", table_name="api_keys", schema="central")
    op.drop_table("api_keys", schema="central")
