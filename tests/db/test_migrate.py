"""`migrate`: older tenant schemas reach head; failures are reported and resumable."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from chatcentral.db.migrations import current_tenant_revision, head_revision
from chatcentral.tenancy.migrate import migrate_all
from chatcentral.tenancy.provisioning import provision_tenant
from tests.support.factories import spec


def _revision(engine: Engine, schema: str) -> str | None:
    with engine.connect() as conn:
        return current_tenant_revision(conn, schema)


def test_migrate_brings_an_older_tenant_schema_to_head(sync_engine: Engine, db_url: str) -> None:
    old = provision_tenant(sync_engine, spec("vieja", "200001"), revision="t0001")
    new = provision_tenant(sync_engine, spec("nueva", "200002"))
    assert _revision(sync_engine, old.schema) == "t0001"
    assert "customer_sessions" not in inspect(sync_engine).get_table_names(schema=old.schema)

    seen: list[tuple[str, str]] = []
    report = migrate_all(db_url, workers=2, on_tenant=lambda slug, o: seen.append((slug, o)))

    assert report.upgraded == ["vieja"] and report.current == ["nueva"] and not report.failed
    assert sorted(seen) == [("nueva", "current"), ("vieja", "upgraded")]
    assert _revision(sync_engine, old.schema) == head_revision("tenant")
    tables = set(inspect(sync_engine).get_table_names(schema=old.schema))
    assert {"customer_sessions", "messages", "handoffs"} <= tables
    # Idempotent: a second run has nothing to do.
    again = migrate_all(db_url, workers=2)
    assert again.upgraded == [] and sorted(again.current) == ["nueva", "vieja"]
    assert _revision(sync_engine, new.schema) == head_revision("tenant")


def test_a_failing_tenant_is_reported_and_the_run_resumes(sync_engine: Engine, db_url: str) -> None:
    for index, slug in enumerate(("ok-uno", "rota", "ok-dos")):
        provision_tenant(sync_engine, spec(slug, f"30000{index}"), revision="t0001")
    # Break one tenant: t0002 references customers, which this schema has lost.
    with sync_engine.begin() as conn:
        conn.execute(text("ALTER TABLE tenant_rota.customers RENAME TO clientes"))

    report = migrate_all(db_url, workers=2)
    assert sorted(report.upgraded) == ["ok-dos", "ok-uno"]
    assert list(report.failed) == ["rota"]
    assert "customers" in report.failed["rota"]
    # The failed tenant rolled back whole: still at its old revision, no half-made tables.
    assert _revision(sync_engine, "tenant_rota") == "t0001"
    assert "customer_sessions" not in inspect(sync_engine).get_table_names(schema="tenant_rota")

    with sync_engine.begin() as conn:
        conn.execute(text("ALTER TABLE tenant_rota.clientes RENAME TO customers"))
    resumed = migrate_all(db_url, workers=2)
    assert resumed.upgraded == ["rota"] and not resumed.failed
    assert sorted(resumed.current) == ["ok-dos", "ok-uno"]
