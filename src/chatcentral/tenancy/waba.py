"""A shop's WhatsApp Business Account (WABA) id: where its message templates live.

Messages go out from the shop's number (`phone_number_id`); templates are created and
approved in the account that owns the number, so `chatcentral templates` needs its id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update

from chatcentral.models.central import Tenant
from chatcentral.tenancy.registry import UnknownTenant, record_change

_WABA_ID = re.compile(r"^\d{5,32}$")


class InvalidWabaId(ValueError):
    pass


def check_waba_id(raw: str) -> str:
    """The id as Meta shows it (digits), or `InvalidWabaId` saying what is wrong."""
    value = raw.strip()
    if not _WABA_ID.match(value):
        raise InvalidWabaId(
            f"invalid WABA id {raw!r}: expected the digits Meta shows "
            "(WhatsApp Manager > Account tools, or WhatsApp > API Setup)"
        )
    return value


@dataclass(frozen=True)
class ShopAccount:
    """What the template commands need to know about a shop."""

    id: int
    slug: str
    flow: str
    settings: dict[str, Any]
    waba_id: str | None
    access_token_encrypted: bytes | None


def shop_account(engine: Engine, slug: str) -> ShopAccount:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                Tenant.id,
                Tenant.slug,
                Tenant.flow,
                Tenant.settings,
                Tenant.waba_id,
                Tenant.access_token_encrypted,
            ).where(Tenant.slug == slug)
        ).first()
    if row is None:
        raise UnknownTenant(f"no tenant with slug {slug!r}")
    return ShopAccount(*row)


def set_waba_id(engine: Engine, slug: str, waba_id: str, *, actor: str = "cli") -> str | None:
    """Record the shop's WABA id (audited); return the one it replaced, if any."""
    waba_id = check_waba_id(waba_id)
    with engine.begin() as conn:
        row = conn.execute(
            select(Tenant.id, Tenant.waba_id).where(Tenant.slug == slug).with_for_update()
        ).first()
        if row is None:
            raise UnknownTenant(f"no tenant with slug {slug!r}")
        conn.execute(
            update(Tenant).where(Tenant.id == row.id).values(waba_id=waba_id, updated_at=func.now())
        )
        details = {"waba_id": {"from": row.waba_id, "to": waba_id}}
        record_change(conn, slug, row.id, "tenant.update", actor=actor, details=details)
    previous: str | None = row.waba_id
    return previous
