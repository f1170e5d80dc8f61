"""Reading and changing the shop registry (`central.tenants`) for operators."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select, update

from chatcentral.db.listener import TENANTS_CHANNEL
from chatcentral.models.central import AuditLog, Plan, Tenant


class UnknownTenant(LookupError):
    pass


def announce_change(conn: Connection, slug: str) -> None:
    """Tell every process to drop its cached copy of this shop (sent at commit)."""
    number = conn.execute(select(Tenant.phone_number_id).where(Tenant.slug == slug)).scalar()
    conn.execute(select(func.pg_notify(TENANTS_CHANNEL, number or "")))


@dataclass(frozen=True)
class TenantRow:
    id: int
    slug: str
    name: str
    phone_number_id: str
    display_phone: str
    flow: str
    plan: str
    active: bool
    schema: str


def list_tenants(engine: Engine) -> list[TenantRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Tenant.id,
                Tenant.slug,
                Tenant.name,
                Tenant.phone_number_id,
                Tenant.display_phone,
                Tenant.flow,
                Plan.code,
                Tenant.active,
                Tenant.schema_name,
            )
            .join(Plan, Plan.id == Tenant.plan_id)
            .order_by(Tenant.id)
        ).all()
    return [TenantRow(*row) for row in rows]


def set_active(engine: Engine, slug: str, active: bool, *, actor: str = "cli") -> None:
    """Turn a shop's bot on or off; its data stays. Audited."""
    with engine.begin() as conn:
        tenant_id = conn.execute(
            update(Tenant)
            .where(Tenant.slug == slug)
            .values(active=active, updated_at=func.now())
            .returning(Tenant.id)
        ).scalar_one_or_none()
        if tenant_id is None:
            raise UnknownTenant(f"no tenant with slug {slug!r}")
        announce_change(conn, slug)
        action = "tenant.activate" if active else "tenant.deactivate"
        conn.execute(insert(AuditLog).values(tenant_id=tenant_id, actor=actor, action=action))
