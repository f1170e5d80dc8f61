"""wake dispatchers when outbox rows are inserted

Revision ID: c0003
Revises: c0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c0003"
down_revision: str | None = "c0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One NOTIFY per inserting statement, delivered at commit (identical notifications
    # in one transaction are folded into one): no writer has to remember to wake anyone.
    op.execute(
        """
        CREATE FUNCTION central.notify_outbox() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('chatcentral_outbox', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON central.outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION central.notify_outbox()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_notify ON central.outbox")
    op.execute("DROP FUNCTION central.notify_outbox()")
