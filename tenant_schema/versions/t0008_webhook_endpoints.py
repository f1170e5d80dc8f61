"""outgoing webhooks: the URLs a shop's own systems hear of its orders at

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0008"
down_revision: str | None = "t0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        # The signing secret, encrypted with CHATCENTRAL_TOKEN_KEY like the shops' tokens.
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        # The last delivery's outcome: delivered or failed, its HTTP status, when, why.
        sa.Column("last_status", sa.Text(), nullable=True),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("webhook_endpoints")
