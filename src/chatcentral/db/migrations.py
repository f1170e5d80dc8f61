"""Alembic, driven from code: the central schema and one environment for every tenant schema.

Both `env.py` files call `run_env`. Callers hand Alembic an open connection (inside their
own transaction) through `Config.attributes`, so provisioning a shop and migrating a
tenant are each one transaction: all or nothing.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text

from chatcentral.db.engine import TenantBinder
from chatcentral.models.central import CENTRAL_SCHEMA, CentralBase
from chatcentral.models.tenant import TenantBase
from chatcentral.resources import resource_dir
from chatcentral.tenancy.naming import quoted_schema

Kind = Literal["central", "tenant"]

# `alembic.op` and `alembic.context` are process-global proxies: two migrations running
# at once in one process would send each other's DDL to the wrong connection. Parallel
# migration uses processes (tenancy.migrate); within a process they take turns.
_ALEMBIC_PROXIES = threading.Lock()

_FOLDERS: dict[Kind, str] = {"central": "central_schema", "tenant": "tenant_schema"}


def alembic_config(kind: Kind) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir(_FOLDERS[kind])))
    config.attributes["kind"] = kind
    return config


@lru_cache(maxsize=2)
def head_revision(kind: Kind) -> str:
    """The newest revision shipped for `kind` (read once per process)."""
    head = ScriptDirectory.from_config(alembic_config(kind)).get_current_head()
    if head is None:
        raise RuntimeError(f"no {kind} migrations found")
    return head


def run_env(context: EnvironmentContext) -> None:
    """Body of both env.py files: migrate the connection and schema given by the caller."""
    attributes: dict[str, Any] = context.config.attributes
    connection: Connection | None = attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `chatcentral migrate`, not the alembic CLI")
    kind: Kind = attributes.get("kind", "tenant")
    metadata: MetaData
    if kind == "central":
        schema = CENTRAL_SCHEMA
        metadata = CentralBase.metadata
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    else:
        schema = attributes["schema"]
        metadata = TenantBase.metadata
        connection = TenantBinder.bind_sync(connection, schema)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=kind == "central",
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade_central(connection: Connection, revision: str = "head") -> None:
    config = alembic_config("central")
    config.attributes["connection"] = connection
    with _ALEMBIC_PROXIES:
        command.upgrade(config, revision)


def upgrade_tenant(connection: Connection, schema: str, revision: str = "head") -> None:
    config = alembic_config("tenant")
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    with _ALEMBIC_PROXIES:
        command.upgrade(config, revision)


def current_tenant_revision(connection: Connection, schema: str) -> str | None:
    """The revision in the tenant's own `alembic_version` table, or None when it has none."""
    table = f"{quoted_schema(schema)}.alembic_version"
    if connection.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
        return None
    return connection.execute(text(f"SELECT version_num FROM {table}")).scalar()  # noqa: S608
