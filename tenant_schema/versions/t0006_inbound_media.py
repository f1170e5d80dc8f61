"""inbound media kept: state, tries and where the bytes are, on the message row

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0006"
down_revision: str | None = "t0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept in step with chatcentral.media.limits.MEDIA_TYPES (a migration never imports the
# package: it must build the same schema whatever the code becomes).
_MEDIA_TYPES = "('image','video','audio','document','sticker')"
_CHANNEL = "chatcentral_media"


def _schema() -> str:
    # ALTER statements are not mapped by schema_translate_map: name the tenant's schema.
    return str(op.get_context().opts["version_table_schema"])


def upgrade() -> None:
    schema = _schema()
    columns = [
        sa.Column("media_state", sa.Text(), nullable=True),
        sa.Column("media_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("media_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("media_error", sa.Text(), nullable=True),
        sa.Column("media_key", sa.Text(), nullable=True),
        sa.Column("media_size", sa.BigInteger(), nullable=True),
        sa.Column("media_mime", sa.Text(), nullable=True),
        sa.Column("media_sha256", sa.Text(), nullable=True),
    ]
    for column in columns:
        op.add_column("messages", column, schema=schema)
    op.create_check_constraint(
        "media_state_known",
        "messages",
        "media_state IN ('pending','stored','failed')",
        schema=schema,
    )
    # Only the downloads still to do are in it: the media job's look-up stays tiny.
    op.create_index(
        "ix_messages_media_due",
        "messages",
        ["media_next_at"],
        schema=schema,
        postgresql_where=sa.text("media_state = 'pending'"),
    )
    # Every inbound media message starts 'pending', whichever code inserts it, and the
    # media job hears of it at commit (one NOTIFY per shop and transaction: identical
    # notifications of one transaction are folded into one). The WHEN clause keeps the
    # trigger off every other message, and off rows whose insert already set a state.
    # Under Citus schema-based sharding a trigger on a distributed schema's table needs
    # citus.enable_unsafe_triggers, and a NOTIFY raised on a worker node does not reach
    # the coordinator's listeners (the job's sweep still finds the row). Setting the state
    # in the inbound INSERT itself, and NOTIFY from the coordinator, would lift both.
    op.execute(
        f"""
        CREATE FUNCTION "{schema}".media_pending() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.media_state := 'pending';
            NEW.media_next_at := now();
            PERFORM pg_notify('{_CHANNEL}', TG_TABLE_SCHEMA);
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        f'CREATE TRIGGER media_pending BEFORE INSERT ON "{schema}".messages FOR EACH ROW '
        f"WHEN (NEW.direction = 'in' AND NEW.type IN {_MEDIA_TYPES} "
        "AND NEW.media_state IS NULL) "
        f'EXECUTE FUNCTION "{schema}".media_pending()'
    )
    # Media that arrived before this migration and whose ids still work (7 days).
    messages = sa.table(
        "messages",
        sa.column("direction", sa.Text()),
        sa.column("type", sa.Text()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("media_state", sa.Text()),
        sa.column("media_next_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.execute(
        messages.update()
        .where(
            messages.c.direction == "in",
            messages.c.type.in_(["image", "video", "audio", "document", "sticker"]),
            messages.c.created_at > sa.func.now() - sa.text("interval '7 days'"),
        )
        .values(media_state="pending", media_next_at=sa.func.now())
    )


def downgrade() -> None:
    schema = _schema()
    op.execute(f'DROP TRIGGER media_pending ON "{schema}".messages')
    op.execute(f'DROP FUNCTION "{schema}".media_pending()')
    op.drop_index("ix_messages_media_due", "messages", schema=schema)
    op.drop_constraint("media_state_known", "messages", type_="check", schema=schema)
    for name in (
        "media_sha256",
        "media_mime",
        "media_size",
        "media_key",
        "media_error",
        "media_next_at",
        "media_attempts",
        "media_state",
    ):
        op.drop_column("messages", name, schema=schema)
