"""The migrations build exactly what the models declare (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from chatcentral.models.central import CentralBase
from chatcentral.models.tenant import TenantBase
from chatcentral.tenancy.provisioning import provision_tenant
from tests.support.factories import spec


def test_tenant_migrations_match_the_models(sync_engine: Engine) -> None:
    made = provision_tenant(sync_engine, spec("drift", "400001"))
    # Reflection ignores schema_translate_map: compare against a copy placed in the schema.
    placed = MetaData()
    for table in TenantBase.metadata.sorted_tables:
        table.to_metadata(placed, schema=made.schema)
    with sync_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "version_table_schema": made.schema,
                "include_name": lambda name, type_, parents: (
                    type_ != "schema" or name == made.schema
                ),
            },
        )
        diff = compare_metadata(context, placed)
    assert diff == []
    assert len(placed.tables) == len(TenantBase.metadata.tables) == 16


def test_central_migrations_match_the_models(sync_engine: Engine) -> None:
    with sync_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "version_table_schema": "central",
                "include_name": _only_central,
            },
        )
        diff = compare_metadata(context, CentralBase.metadata)
    assert diff == []


def _only_central(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    return type_ != "schema" or name == "central"
