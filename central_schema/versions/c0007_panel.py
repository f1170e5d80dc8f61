"""panel_logins, panel_sessions, panel_attempts: the shop owner's web panel

Revision ID: c0007
Revises: c0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0007"
down_revision: str | None = "c0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.Column[sa.DateTime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    # One-time login links sent over WhatsApp; only the SHA-256 of the random token is kept.
    op.create_table(
        "panel_logins",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger(), sa.ForeignKey("central.tenants.id"), nullable=False
        ),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False, unique=True),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        schema="central",
    )
    # Signed-in browsers: the cookie holds a random token, the row its SHA-256 and the
    # session's CSRF token.
    op.create_table(
        "panel_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger(), sa.ForeignKey("central.tenants.id"), nullable=False
        ),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("csrf_token", sa.Text(), nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema="central",
    )
    # Login attempts per phone and per client address, counted for the rate limit.
    op.create_table(
        "panel_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("bucket", sa.Text(), nullable=False),
        _now(),
        schema="central",
    )
    op.create_index(
        "ix_panel_attempts_bucket", "panel_attempts", ["bucket", "created_at"], schema="central"
    )


def downgrade() -> None:
    op.drop_index("ix_panel_attempts_bucket", table_name="panel_attempts", schema="central")
    op.drop_table("panel_attempts", schema="central")
    op.drop_table("panel_sessions", schema="central")
    op.drop_table("panel_logins", schema="central")
