"""the shop's side: staff sessions and windows, relayed messages, handoff clocks,
reminders

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "t0005"
down_revision: str | None = "t0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str:
    # ALTER statements are not mapped by schema_translate_map: name the tenant's schema.
    return str(op.get_context().opts["version_table_schema"])


def upgrade() -> None:
    schema = _schema()
    # One row per admin phone that has written to (or been written by) the shop's number:
    # the 24-hour window, the admin conversation's state, and news that never arrived.
    op.create_table(
        "staff",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("wa_id", sa.Text(), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.Text(), server_default="admin_menu", nullable=False),
        sa.Column(
            "context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("undelivered", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("wa_id"),
    )
    # A message relayed to or from staff during a handoff: an admin's reply to it finds
    # the handoff by the forwarded message's wamid.
    op.add_column(
        "messages", sa.Column("handoff_id", sa.BigInteger(), nullable=True), schema=schema
    )
    op.create_foreign_key(
        "fk_messages_handoff",
        "messages",
        "handoffs",
        ["handoff_id"],
        ["id"],
        ondelete="SET NULL",
        source_schema=schema,
        referent_schema=schema,
    )
    op.add_column(
        "handoffs",
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.add_column(
        "handoffs",
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.add_column(
        "handoffs",
        sa.Column("timed_out_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.add_column(
        "customers",
        sa.Column(
            "reminders_opt_out", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        schema=schema,
    )
    op.add_column(
        "customers",
        sa.Column("last_reminded_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_column("customers", "last_reminded_at", schema=schema)
    op.drop_column("customers", "reminders_opt_out", schema=schema)
    op.drop_column("handoffs", "timed_out_at", schema=schema)
    op.drop_column("handoffs", "answered_at", schema=schema)
    op.drop_column("handoffs", "waiting_since", schema=schema)
    op.drop_constraint("fk_messages_handoff", "messages", type_="foreignkey", schema=schema)
    op.drop_column("messages", "handoff_id", schema=schema)
    op.drop_table("staff")
