"""A shop's plan: changing it (audited), and the active-product limit it sets.

Plans live in `central.plans` (Básico, Completo, Premium): a monthly message quota (the
message path enforces it, `conversation/limits.py`), a limit on active products and the
features they include.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.engine import TenantBinder
from chatcentral.models.central import Plan, Tenant
from chatcentral.models.tenant import Product
from chatcentral.tenancy.registry import UnknownTenant, record_change

# Features a plan may include (`central.plans.features`) that the code gates on.
ADMIN_API = "admin_api"
PANEL_STATS = "panel_stats"


async def plan_with(conn: AsyncConnection, feature: str) -> str:
    """The name of the cheapest plan that includes `feature` (for a 403 that says which)."""
    name = (
        await conn.execute(
            select(Plan.name)
            .where(Plan.features.contains([feature]))
            .order_by(Plan.monthly_price)
            .limit(1)
        )
    ).scalar()
    return str(name or "Premium")


class PlanRefused(ValueError):
    """The change would leave the shop outside its plan (e.g. more active products)."""


@dataclass(frozen=True)
class PlanChange:
    slug: str
    before: str
    after: str
    active_products: int
    product_limit: int


def active_products(conn: Connection, schema: str) -> int:
    tenant = TenantBinder.bind_sync(conn, schema)
    query = select(func.count()).select_from(Product).where(Product.active)
    return int(tenant.execute(query).scalar_one())


def change_plan(engine: Engine, slug: str, code: str, *, actor: str = "cli") -> PlanChange:
    """Move a shop to the plan `code`; refused while it has more active products than the
    plan allows (deactivate some first). Audited, and every process drops its cached copy."""
    with engine.begin() as conn:
        plan = conn.execute(
            select(Plan.id, Plan.code, Plan.name, Plan.active_product_limit).where(
                Plan.code == code
            )
        ).first()
        if plan is None:
            known = ", ".join(conn.execute(select(Plan.code).order_by(Plan.id)).scalars())
            raise PlanRefused(f"unknown plan {code!r}: choose {known}")
        shop = conn.execute(
            select(Tenant.id, Tenant.schema_name, Plan.code)
            .join(Plan, Plan.id == Tenant.plan_id)
            .where(Tenant.slug == slug)
            .with_for_update(of=Tenant)
        ).first()
        if shop is None:
            raise UnknownTenant(f"no tenant with slug {slug!r}")
        count = active_products(conn, shop.schema_name)
        if count > plan.active_product_limit:
            raise PlanRefused(
                f"{slug} has {count} active products and {plan.name} allows "
                f"{plan.active_product_limit}: deactivate {count - plan.active_product_limit} first"
            )
        conn.execute(
            update(Tenant)
            .where(Tenant.id == shop.id)
            .values(plan_id=plan.id, updated_at=func.now())
        )
        record_change(
            conn, slug, shop.id, "tenant.plan", actor=actor, details={"from": shop.code, "to": code}
        )
    return PlanChange(slug, shop.code, code, count, plan.active_product_limit)
