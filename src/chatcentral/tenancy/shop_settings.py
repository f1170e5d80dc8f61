"""A shop's own settings and texts in `central.tenants.settings`: changed key by key,
validated against the shop's flow before anything is written, announced to every
process and audited (as `business_hours.py` does for the hours).

A change that did not validate would not fail later: `flow.effective` ignores a shop's
settings that do not validate, so one bad zone would silently drop the shop's minimum
order, payment methods and zones alike. Hence the check here, before writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, select, update

from chatcentral.conversation.flow import Settings, shipped_flow
from chatcentral.models.central import Tenant
from chatcentral.tenancy.registry import UnknownTenant, record_change

TEXTS = "texts"


class SettingsRefused(ValueError):
    """The settings would not validate; the message names the first problem."""


def apply_settings(
    conn: Connection,
    slug: str,
    action: str,
    *,
    actor: str,
    values: Mapping[str, Any] | None = None,
    texts: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Set (or with None, remove) settings `values` and `texts` overrides of one shop in
    `conn`'s transaction; returns the settings after. Raises SettingsRefused or
    UnknownTenant."""
    row = conn.execute(
        select(Tenant.id, Tenant.flow, Tenant.settings).where(Tenant.slug == slug).with_for_update()
    ).first()
    if row is None:
        raise UnknownTenant(f"no tenant with slug {slug!r}")
    before: dict[str, Any] = dict(row.settings or {})
    after = _merged(before, values or {})
    shop_texts = _merged(dict(before.get(TEXTS) or {}), texts or {})
    after.pop(TEXTS, None)
    check(row.flow, after)
    if shop_texts:
        after[TEXTS] = shop_texts
    if after != before:
        conn.execute(
            update(Tenant).where(Tenant.id == row.id).values(settings=after, updated_at=func.now())
        )
        touched = [*(values or {}), *(f"{TEXTS}.{key}" for key in texts or {})]
        details = {
            "before": {key: _at(before, key) for key in touched},
            "after": {key: _at(after, key) for key in touched},
        }
        record_change(conn, slug, row.id, action, actor=actor, details=details)
    return after


def check(flow_name: str, shop_settings: Mapping[str, Any]) -> Settings:
    """The flow's settings with the shop's applied, as the engine will read them."""
    base = shipped_flow(flow_name).settings.model_dump()
    try:
        return Settings.model_validate({**base, **shop_settings})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SettingsRefused(f"{where}: {first['msg']}") from None


def _merged(current: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _at(settings: Mapping[str, Any], dotted: str) -> Any:
    if dotted.startswith(f"{TEXTS}."):
        return (settings.get(TEXTS) or {}).get(dotted.removeprefix(f"{TEXTS}."))
    return settings.get(dotted)
