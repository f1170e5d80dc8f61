"""the shop's side: a WABA id per shop (templates), and a fallback call per outbox row

Revision ID: c0004
Revises: c0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c0004"
down_revision: str | None = "c0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Templates live in the shop's WhatsApp Business Account, not on its number.
    op.add_column("tenants", sa.Column("waba_id", sa.Text(), nullable=True), schema="central")
    # What to send instead when Meta refuses the payload for a closed 24-hour window
    # (131047): the same news as an approved template.
    op.add_column(
        "outbox",
        sa.Column("fallback", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="central",
    )


def downgrade() -> None:
    op.drop_column("outbox", "fallback", schema="central")
    op.drop_column("tenants", "waba_id", schema="central")
