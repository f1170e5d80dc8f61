"""Reading and changing the shop registry (`central.tenants`) for operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from chatcentral.db.listener import TENANTS_CHANNEL
from chatcentral.models.central import AuditLog, Plan, Tenant
from chatcentral.phones import InvalidPhone, normalize_phone


class UnknownTenant(LookupError):
    pass


def announce_change(conn: Connection, slug: str) -> None:
    """Tell every process to drop its cached copy of this shop (sent at commit)."""
    number = conn.execute(select(Tenant.phone_number_id).where(Tenant.slug == slug)).scalar()
    conn.execute(select(func.pg_notify(TENANTS_CHANNEL, number or "")))


def record_change(
    conn: Connection,
    slug: str,
    tenant_id: int,
    action: str,
    *,
    actor: str,
    details: dict[str, Any] | None = None,
) -> None:
    """After changing a shop in `conn`'s transaction: every process drops its cached copy
    (at commit) and the change is written to the audit log."""
    announce_change(conn, slug)
    conn.execute(
        insert(AuditLog).values(
            tenant_id=tenant_id, actor=actor, action=action, details=details or {}
        )
    )


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
        action = "tenant.activate" if active else "tenant.deactivate"
        record_change(conn, slug, tenant_id, action, actor=actor)


class AdminChangeRefused(ValueError):
    """The admin list would not be usable (an unknown phone, the last admin removed)."""


def admin_phones(engine: Engine, slug: str) -> list[str]:
    with engine.connect() as conn:
        phones = conn.execute(select(Tenant.admin_phones).where(Tenant.slug == slug)).scalar()
    if phones is None:
        raise UnknownTenant(f"no tenant with slug {slug!r}")
    return list(phones)


def change_admins(
    engine: Engine, slug: str, phone: str, *, add: bool, actor: str = "cli"
) -> list[str]:
    """Add or remove one admin phone (any form: "+52 55 …", "55 …", a wa_id); returns the
    list after the change. A shop keeps at least one admin: someone must hear of orders."""
    try:
        canonical = normalize_phone(phone)
    except InvalidPhone as exc:
        raise AdminChangeRefused(str(exc)) from None
    with engine.begin() as conn:
        row = conn.execute(
            select(Tenant.id, Tenant.admin_phones).where(Tenant.slug == slug).with_for_update()
        ).first()
        if row is None:
            raise UnknownTenant(f"no tenant with slug {slug!r}")
        phones = list(row.admin_phones)
        if add and canonical not in phones:
            phones.append(canonical)
        elif not add:
            if canonical not in phones:
                raise AdminChangeRefused(f"{canonical} is not an admin of {slug}")
            if len(phones) == 1:
                raise AdminChangeRefused(
                    f"{canonical} is the only admin of {slug}; add another first"
                )
            phones.remove(canonical)
        conn.execute(
            update(Tenant)
            .where(Tenant.id == row.id)
            .values(admin_phones=phones, updated_at=func.now())
        )
        action = "tenant.admin.add" if add else "tenant.admin.remove"
        record_change(conn, slug, row.id, action, actor=actor, details={"phone": canonical})
    return phones
