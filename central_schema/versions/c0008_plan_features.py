"""plans: the features the code gates on (panel stats, reminders, outgoing webhooks)

Revision ID: c0008
Revises: c0007
Create Date: 2026-11-30
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0008"
down_revision: str | None = "c0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Completo adds panel statistics and refill reminders; Premium adds outgoing webhooks
# (it already has the admin API).
ADDED = {
    "complete": ["panel_stats", "reminders"],
    "premium": ["panel_stats", "reminders", "outgoing_webhooks"],
}


def upgrade() -> None:
    for code, features in ADDED.items():
        op.execute(
            sa.text(
                "UPDATE central.plans SET features = features || CAST(:added AS jsonb) "
                "WHERE code = :code"
            ).bindparams(added=json.dumps(features), code=code)
        )


def downgrade() -> None:
    for code, features in ADDED.items():
        for feature in features:
            op.execute(
                sa.text(
                    "UPDATE central.plans SET features = features - :feature WHERE code = :code"
                ).bindparams(feature=feature, code=code)
            )
