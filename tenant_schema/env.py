"""Alembic environment; the work is done by chatcentral.db.migrations.run_env."""

from alembic import context

from chatcentral.db.migrations import run_env

run_env(context)
