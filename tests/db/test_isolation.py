"""Two shops on one engine and one pool never see each other's rows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.db.engine import TenantBinder
from chatcentral.models.tenant import Category, Customer, Product
from chatcentral.resources import resource_dir
from chatcentral.tenancy.catalog import read_catalog
from chatcentral.tenancy.provisioning import provision_tenant
from tests.support.factories import spec


async def test_two_tenants_data_never_mix(sync_engine: Engine, async_engine: AsyncEngine) -> None:
    catalogs = resource_dir("flows") / "catalogs"
    grocery = provision_tenant(
        sync_engine, spec("tienda-a", "100001"), read_catalog(catalogs / "grocery.csv")
    )
    water = provision_tenant(
        sync_engine,
        spec("agua-b", "100002", flow="water_delivery"),
        read_catalog(catalogs / "water_delivery.csv"),
    )
    binder = TenantBinder(async_engine)

    # The same person writes to both shops: one customer row in each, never shared.
    for schema, name in ((grocery.schema, "Ana en tienda"), (water.schema, "Ana en agua")):
        async with binder.session(schema) as session, session.begin():
            session.add(Customer(wa_id="525512345678", name=name))

    async with binder.session(grocery.schema) as session:
        names = (await session.execute(select(Customer.name))).scalars().all()
        products = (await session.execute(select(Product.name))).scalars().all()
    assert names == ["Ana en tienda"]
    assert "Aguacate Hass" in products and not any("Garrafón" in p for p in products)

    async with binder.session(water.schema) as session:
        names = (await session.execute(select(Customer.name))).scalars().all()
        count = (await session.execute(select(func.count()).select_from(Product))).scalar_one()
        price = (
            await session.execute(
                select(Product.price).where(Product.name == "Garrafón 20 L (recarga)")
            )
        ).scalar_one()
    assert names == ["Ana en agua"]
    assert count == 6
    assert price == Decimal("35.00")

    # A write through one tenant's session lands only in that schema.
    async with binder.session(water.schema) as session, session.begin():
        session.add(Category(name="Solo agua"))
    async with binder.session(grocery.schema) as session:
        categories = (await session.execute(select(Category.name))).scalars().all()
    assert "Solo agua" not in categories


async def test_unqualified_tables_never_fall_back_to_public(
    sync_engine: Engine, async_engine: AsyncEngine
) -> None:
    made = provision_tenant(sync_engine, spec("sola", "100003"))
    binder = TenantBinder(async_engine)
    async with binder.session(made.schema) as session:
        compiled = await session.connection()
        sql = str(select(Customer.id).compile(dialect=compiled.dialect))
        assert "tenant" not in sql  # the schema is applied at execution time, not compiled in
        rows = (await session.execute(select(Customer.id))).all()
    assert rows == []
    # public has no tenant tables at all: a missing translation would fail loudly.
    with sync_engine.connect() as conn:
        from sqlalchemy import inspect

        assert inspect(conn).get_table_names(schema="public") == []


def test_binder_caches_views_per_schema_with_a_bound() -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+psycopg://u@localhost/x")
    binder = TenantBinder(engine, capacity=2)
    first = binder.engine_for("tenant_a")
    assert binder.engine_for("tenant_a") is first
    binder.engine_for("tenant_b")
    binder.engine_for("tenant_c")  # evicts tenant_a, the least recently used
    assert binder.engine_for("tenant_a") is not first
    assert first.get_execution_options()["schema_translate_map"] == {None: "tenant_a"}
