"""Onboarding a shop: its schema, its migrations, its catalog and its registry row.

Everything happens in one transaction, so a failure at any step leaves no schema, no
tables and no registry row behind (PostgreSQL DDL is transactional).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from chatcentral.config import Settings
from chatcentral.conversation.flow import flow_files
from chatcentral.db.engine import TenantBinder
from chatcentral.db.migrations import upgrade_tenant
from chatcentral.models.central import Plan, Tenant
from chatcentral.models.tenant import Category, Product
from chatcentral.phones import InvalidPhone, normalize_phone
from chatcentral.tenancy.catalog import CatalogItem
from chatcentral.tenancy.naming import InvalidSlug, quoted_schema, schema_for
from chatcentral.tenancy.registry import record_change
from chatcentral.tenancy.secrets import encrypt_token
from chatcentral.tenancy.waba import InvalidWabaId, check_waba_id

PLANS = ("basic", "complete", "premium")
_PHONE_NUMBER_ID = re.compile(r"^\d{5,32}$")

DEFAULT_BUSINESS_HOURS: dict[str, list[list[str]]] = {
    **{day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    "sun": [["09:00", "14:00"]],
}


class ProvisioningError(Exception):
    """Onboarding refused; the message is one line an operator can act on."""


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    name: str
    phone_number_id: str
    display_phone: str
    flow: str
    admin_phones: list[str]
    plan: str = "basic"
    timezone: str = "America/Mexico_City"
    access_token: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    waba_id: str | None = None  # WhatsApp Business Account (message templates)


@dataclass(frozen=True)
class ProvisionedTenant:
    id: int
    slug: str
    schema: str
    products: int


def validate_spec(spec: TenantSpec) -> TenantSpec:
    """Check and normalise every field before touching the database."""
    try:
        schema_for(spec.slug)
    except InvalidSlug as exc:
        raise ProvisioningError(str(exc)) from None
    if not spec.name.strip():
        raise ProvisioningError("name must not be empty")
    if not _PHONE_NUMBER_ID.match(spec.phone_number_id):
        raise ProvisioningError(
            f"invalid phone-number-id {spec.phone_number_id!r}: expected the digits Meta shows"
        )
    flows = sorted(flow_files())
    if spec.flow not in flows:
        raise ProvisioningError(f"unknown flow {spec.flow!r}: choose {' or '.join(flows)}")
    if spec.plan not in PLANS:
        raise ProvisioningError(f"unknown plan {spec.plan!r}: choose {', '.join(PLANS)}")
    if not spec.admin_phones:
        raise ProvisioningError("at least one --admin-phone is required")
    try:
        admins = list(dict.fromkeys(normalize_phone(phone) for phone in spec.admin_phones))
        display = normalize_phone(spec.display_phone)
    except InvalidPhone as exc:
        raise ProvisioningError(str(exc)) from None
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProvisioningError(f"unknown timezone {spec.timezone!r}") from None
    try:
        waba_id = check_waba_id(spec.waba_id) if spec.waba_id is not None else None
    except InvalidWabaId as exc:
        raise ProvisioningError(str(exc)) from None
    return TenantSpec(
        slug=spec.slug,
        name=spec.name.strip(),
        phone_number_id=spec.phone_number_id,
        display_phone=display,
        flow=spec.flow,
        admin_phones=admins,
        plan=spec.plan,
        timezone=spec.timezone,
        access_token=spec.access_token,
        settings=spec.settings,
        waba_id=waba_id,
    )


def provision_tenant(
    engine: Engine,
    spec: TenantSpec,
    catalog: list[CatalogItem] | None = None,
    *,
    settings: Settings | None = None,
    revision: str = "head",
    actor: str = "cli",
) -> ProvisionedTenant:
    """Create the shop in one transaction and return what was made."""
    spec = validate_spec(spec)
    catalog = catalog or []
    schema = schema_for(spec.slug)
    token = None
    if spec.access_token:
        if settings is None:
            raise ProvisioningError("a per-tenant access token needs CHATCENTRAL_TOKEN_KEY")
        token = encrypt_token(settings, spec.access_token)
    try:
        with engine.begin() as conn:
            plan = _plan(conn, spec.plan)
            _refuse_duplicates(conn, spec, schema)
            _check_plan_limits(plan, catalog)
            conn.execute(text(f"CREATE SCHEMA {quoted_schema(schema)}"))
            upgrade_tenant(conn, schema, revision)
            products = _seed_catalog(conn, schema, catalog)
            tenant_id = conn.execute(
                insert(Tenant)
                .values(
                    slug=spec.slug,
                    schema_name=schema,
                    name=spec.name,
                    phone_number_id=spec.phone_number_id,
                    display_phone=spec.display_phone,
                    flow=spec.flow,
                    plan_id=plan.id,
                    admin_phones=spec.admin_phones,
                    timezone=spec.timezone,
                    business_hours=DEFAULT_BUSINESS_HOURS,
                    settings=spec.settings,
                    access_token_encrypted=token,
                    waba_id=spec.waba_id,
                )
                .returning(Tenant.id)
            ).scalar_one()
            details = {
                "slug": spec.slug,
                "flow": spec.flow,
                "plan": spec.plan,
                "products": products,
            }
            record_change(conn, spec.slug, tenant_id, "tenant.create", actor=actor, details=details)
    except IntegrityError as exc:
        constraint = _constraint(exc)
        if constraint.startswith("tenants_"):
            # Lost a race with a concurrent onboarding of the same slug or number.
            raise ProvisioningError(
                f"tenant {spec.slug!r} conflicts with an existing one ({constraint})"
            ) from None
        raise ProvisioningError(f"catalog refused by the database ({constraint})") from None
    except ProgrammingError as exc:
        if "already exists" in str(exc.orig):
            raise ProvisioningError(f"schema {schema} already exists in the database") from None
        raise
    return ProvisionedTenant(id=tenant_id, slug=spec.slug, schema=schema, products=products)


class _PlanLimits(NamedTuple):
    id: int
    name: str
    active_product_limit: int


def _plan(conn: Connection, code: str) -> _PlanLimits:
    plan = conn.execute(
        select(Plan.id, Plan.name, Plan.active_product_limit).where(Plan.code == code)
    ).first()
    if plan is None:
        raise ProvisioningError(f"plan {code!r} is not in central.plans (run chatcentral migrate)")
    return _PlanLimits(*plan)


def _refuse_duplicates(conn: Connection, spec: TenantSpec, schema: str) -> None:
    clash = conn.execute(
        select(Tenant.slug, Tenant.phone_number_id, Tenant.schema_name).where(
            or_(
                Tenant.slug == spec.slug,
                Tenant.phone_number_id == spec.phone_number_id,
                Tenant.schema_name == schema,
            )
        )
    ).first()
    if clash is None:
        return
    if clash.slug == spec.slug:
        raise ProvisioningError(f"slug {spec.slug!r} is already taken")
    if clash.phone_number_id == spec.phone_number_id:
        raise ProvisioningError(
            f"phone-number-id {spec.phone_number_id} already belongs to tenant {clash.slug!r}"
        )
    raise ProvisioningError(f"slug {spec.slug!r} maps to schema {schema}, used by {clash.slug!r}")


def _check_plan_limits(plan: _PlanLimits, catalog: list[CatalogItem]) -> None:
    active = sum(1 for item in catalog if item.active)
    if active > plan.active_product_limit:
        raise ProvisioningError(
            f"catalog has {active} active products; plan {plan.name} allows "
            f"{plan.active_product_limit}"
        )


def _seed_catalog(conn: Connection, schema: str, catalog: list[CatalogItem]) -> int:
    if not catalog:
        return 0
    tenant_conn = TenantBinder.bind_sync(conn, schema)
    names = list(dict.fromkeys(item.category for item in catalog))
    rows = tenant_conn.execute(
        insert(Category).returning(Category.id, Category.name),
        [{"name": name, "position": position} for position, name in enumerate(names)],
    )
    category_ids = {row.name: row.id for row in rows}
    tenant_conn.execute(
        insert(Product),
        [
            {
                "category_id": category_ids[item.category],
                "name": item.name,
                "description": item.description,
                "price": item.price,
                "unit": item.unit.value,
                "stock": item.stock,
                "active": item.active,
                "position": position,
            }
            for position, item in enumerate(catalog)
        ],
    )
    count: int = tenant_conn.execute(select(func.count()).select_from(Product)).scalar_one()
    return count


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return str(name) if name else "unique constraint"
