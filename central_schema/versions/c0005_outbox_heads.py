"""outbox: a partial index on pending ids (the claim), and the inbound message a reply marks read

Revision ID: c0005
Revises: c0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0005"
down_revision: str | None = "c0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The claim walks pending rows oldest first and keeps the first of each customer's
    # queue (ix_outbox_pending_recipient answers "is it the first?" with one probe): this
    # index lets it walk pending rows only, not every row ever sent.
    op.create_index(
        "ix_outbox_pending_id",
        "outbox",
        ["id"],
        schema="central",
        postgresql_where=sa.text("status = 'pending'"),
    )
    # The customer's message this reply marks read once Meta accepts it (the last reply
    # to it carries it): a mark-read has no outbox row of its own.
    op.add_column(
        "outbox", sa.Column("mark_read_wamid", sa.Text(), nullable=True), schema="central"
    )


def downgrade() -> None:
    op.drop_column("outbox", "mark_read_wamid", schema="central")
    op.drop_index("ix_outbox_pending_id", table_name="outbox", schema="central")
