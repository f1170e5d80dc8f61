"""The demo shops `make run` provisions so the bot can be tried at once."""

from __future__ import annotations

from sqlalchemy import Engine, select

from chatcentral.db.migrations import current_tenant_revision, head_revision, upgrade_tenant
from chatcentral.models.central import Tenant
from chatcentral.resources import resource_dir
from chatcentral.tenancy.catalog import read_catalog
from chatcentral.tenancy.provisioning import TenantSpec, provision_tenant

DEMO_TENANTS = (
    TenantSpec(
        slug="demo",
        name="Abarrotes Doña Mary (demo)",
        phone_number_id="100000000000001",
        display_phone="+52 55 1000 0001",
        flow="grocery",
        admin_phones=["+52 55 1000 0099"],
        plan="premium",
    ),
    TenantSpec(
        slug="demo-agua",
        name="Agua Purificada La Fuente (demo)",
        phone_number_id="100000000000002",
        display_phone="+52 55 1000 0002",
        flow="water_delivery",
        admin_phones=["+52 55 1000 0098"],
        plan="premium",
    ),
)


def ensure_demo_tenants(engine: Engine) -> list[str]:
    """Provision each demo shop that does not exist yet, and bring those that do to the
    code's schema (a developer who pulled a migration should not meet 503s); say what was
    done."""
    with engine.connect() as conn:
        existing = {
            row.slug: row.schema_name
            for row in conn.execute(select(Tenant.slug, Tenant.schema_name))
        }
    done = []
    head = head_revision("tenant")
    for spec in DEMO_TENANTS:
        if spec.slug in existing:
            with engine.begin() as conn:
                schema = existing[spec.slug]
                if current_tenant_revision(conn, schema) != head:
                    upgrade_tenant(conn, schema)
                    done.append(f"migrated demo shop {spec.slug} to {head}")
            continue
        catalog = read_catalog(resource_dir("flows") / "catalogs" / f"{spec.flow}.csv")
        made = provision_tenant(engine, spec, catalog, actor="demo")
        done.append(
            f"provisioned demo shop {made.slug} ({spec.phone_number_id}): {made.products} products"
        )
    return done
