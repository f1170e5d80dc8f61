"""Onboarding a shop: every table, the registry row, all-or-nothing, clear refusals."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import Engine, inspect, select, text

from chatcentral.config import Settings
from chatcentral.models.central import AuditLog, Tenant
from chatcentral.models.tenant import TenantBase
from chatcentral.resources import resource_dir
from chatcentral.tenancy import provisioning
from chatcentral.tenancy.catalog import read_catalog
from chatcentral.tenancy.provisioning import ProvisioningError, provision_tenant
from chatcentral.tenancy.secrets import decrypt_token
from tests.support.factories import spec

GROCERY = resource_dir("flows") / "catalogs" / "grocery.csv"


def _schemas(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%'")
            ).scalars()
        )


def test_provisioning_creates_every_table_and_the_registry_row(sync_engine: Engine) -> None:
    catalog = read_catalog(GROCERY)
    made = provision_tenant(sync_engine, spec("abarrotes-lupita", "111111"), catalog)

    assert made.schema == "tenant_abarrotes_lupita"
    tables = set(inspect(sync_engine).get_table_names(schema=made.schema))
    assert tables == set(TenantBase.metadata.tables) | {"alembic_version"}
    with sync_engine.connect() as conn:
        row = conn.execute(select(Tenant).where(Tenant.slug == "abarrotes-lupita")).one()
        assert row.phone_number_id == "111111"
        assert row.schema_name == made.schema
        assert row.admin_phones == ["+525587654321"]
        assert row.timezone == "America/Mexico_City"
        assert row.currency == "MXN"
        assert row.active is True
        assert row.business_hours["mon"] == [["08:00", "20:00"]]
        statuses = (
            conn.execute(text(f"SELECT code FROM {made.schema}.order_status ORDER BY position"))
            .scalars()
            .all()
        )
        assert statuses == [
            "pendiente",
            "confirmado",
            "en_preparacion",
            "en_camino",
            "entregado",
            "cancelado",
        ]
        products = conn.execute(
            text(
                f"SELECT p.name, p.price, p.unit, c.name AS category FROM {made.schema}.products p"
                f" JOIN {made.schema}.categories c ON c.id = p.category_id ORDER BY p.id"
            )
        ).all()
        assert len(products) == len(catalog) == made.products
        aguacate = next(p for p in products if p.name == "Aguacate Hass")
        assert aguacate.price == Decimal("79.00") and aguacate.unit == "KG"
        assert aguacate.category == "Frutas y verduras"
        audit = conn.execute(select(AuditLog.action).where(AuditLog.tenant_id == made.id)).all()
        assert [a.action for a in audit] == ["tenant.create"]


def test_a_failed_provisioning_leaves_nothing_behind(
    sync_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full while seeding")

    # Fail after the schema and all its tables exist: the transaction must take them back.
    monkeypatch.setattr(provisioning, "_seed_catalog", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        provision_tenant(sync_engine, spec("fallida", "222222"), read_catalog(GROCERY))

    assert _schemas(sync_engine) == set()
    with sync_engine.connect() as conn:
        assert conn.execute(select(Tenant.id)).all() == []
        assert conn.execute(select(AuditLog.id)).all() == []
    # The same slug and number can then be provisioned for real.
    monkeypatch.undo()
    provision_tenant(sync_engine, spec("fallida", "222222"))
    assert _schemas(sync_engine) == {"tenant_fallida"}


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (spec("uno", "999999"), "slug 'uno' is already taken"),
        (spec("dos", "333333"), "phone-number-id 333333 already belongs to tenant 'uno'"),
    ],
)
def test_duplicates_are_refused_clearly(
    sync_engine: Engine, second: provisioning.TenantSpec, message: str
) -> None:
    provision_tenant(sync_engine, spec("uno", "333333"))
    with pytest.raises(ProvisioningError, match=message):
        provision_tenant(sync_engine, second)
    assert _schemas(sync_engine) == {"tenant_uno"}


def test_slugs_that_map_to_the_same_schema_are_refused(sync_engine: Engine) -> None:
    provision_tenant(sync_engine, spec("la-esquina", "444444"))
    with pytest.raises(ProvisioningError, match="maps to schema tenant_la_esquina"):
        provision_tenant(sync_engine, spec("la_esquina", "555555"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"slug": "Tienda!"}, "invalid slug"),
        ({"slug": "-x"}, "invalid slug"),
        ({"phone_number_id": "12ab"}, "invalid phone-number-id"),
        ({"flow": "pizza"}, "unknown flow"),
        ({"plan": "gold"}, "unknown plan"),
        ({"admin_phones": []}, "admin-phone"),
        ({"admin_phones": ["12"]}, "not a valid phone number"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_specs_are_refused_before_touching_the_database(
    sync_engine: Engine, changes: dict[str, object], message: str
) -> None:
    fields = {"slug": "ok", "phone_number_id": "666666"} | changes
    slug, number = fields.pop("slug"), fields.pop("phone_number_id")
    with pytest.raises(ProvisioningError, match=message):
        provision_tenant(sync_engine, spec(str(slug), str(number), **fields))
    assert _schemas(sync_engine) == set()


def test_plan_product_limit_is_enforced(sync_engine: Engine) -> None:
    base = read_catalog(GROCERY)
    catalog = base + [replace(item, name=item.name + " (mayoreo)") for item in base]
    assert len(catalog) == 52  # all active; Básico allows 50
    with pytest.raises(ProvisioningError, match="allows 50"):
        provision_tenant(sync_engine, spec("grande", "777777"), catalog)
    made = provision_tenant(sync_engine, spec("grande", "777777", plan="complete"), catalog[:30])
    assert made.products == 30


def test_per_tenant_token_is_stored_encrypted(sync_engine: Engine, settings: Settings) -> None:
    made = provision_tenant(
        sync_engine, spec("con-token", "888888", access_token="EAAG-secret"), settings=settings
    )
    with sync_engine.connect() as conn:
        stored = conn.execute(
            select(Tenant.access_token_encrypted).where(Tenant.id == made.id)
        ).scalar_one()
    assert stored is not None and b"EAAG-secret" not in stored
    assert decrypt_token(settings, stored) == "EAAG-secret"


def test_phone_forms_of_one_admin_collapse_to_one(sync_engine: Engine) -> None:
    admins = ["+52 55 8765 4321", "5215587654321", "55 8765 4321", "+54 9 11 2345 6789"]
    made = provision_tenant(sync_engine, spec("admins", "101010", admin_phones=admins))
    with sync_engine.connect() as conn:
        stored = conn.execute(select(Tenant.admin_phones).where(Tenant.id == made.id)).scalar_one()
    assert stored == ["+525587654321", "+5491123456789"]
