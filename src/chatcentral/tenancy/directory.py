"""Which shop a webhook is for: `phone_number_id` → shop, cached in process.

Entries live a short time (TTL) and are dropped at once when the registry announces a
change on the `chatcentral_tenants` channel; unknown numbers are cached briefly too, so
a flood for a number that is not ours never reaches the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.conversation.shop import Shop
from chatcentral.models.central import Tenant

_COLUMNS = (
    Tenant.id,
    Tenant.slug,
    Tenant.schema_name,
    Tenant.name,
    Tenant.phone_number_id,
    Tenant.display_phone,
    Tenant.flow,
    Tenant.active,
    Tenant.timezone,
    Tenant.currency,
    Tenant.business_hours,
    Tenant.settings,
    Tenant.admin_phones,
    Tenant.access_token_encrypted,
)


class TenantDirectory:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._by_number: dict[str, tuple[float, Shop | None]] = {}

    async def by_phone_number_id(self, phone_number_id: str) -> Shop | None:
        """The shop for this number (active or not), or None when no shop has it."""
        cached = self._by_number.get(phone_number_id)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        shop = await self._load(Tenant.phone_number_id == phone_number_id)
        expires = now + (self._ttl if shop is not None else self._negative_ttl)
        self._by_number[phone_number_id] = (expires, shop)
        return shop

    def invalidate(self, phone_number_id: str = "") -> None:
        """Forget one number, or everything when called with an empty string."""
        if phone_number_id:
            self._by_number.pop(phone_number_id, None)
        else:
            self._by_number.clear()

    async def _load(self, condition: Any) -> Shop | None:
        query = select(*_COLUMNS).where(condition)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Shop(
            id=row[0],
            slug=row[1],
            schema=row[2],
            name=row[3],
            phone_number_id=row[4],
            display_phone=row[5],
            flow=row[6],
            active=row[7],
            timezone=row[8],
            currency=row[9],
            business_hours=row[10],
            settings=row[11],
            admin_phones=tuple(row[12]),
            access_token_encrypted=row[13],
        )


__all__ = ["Shop", "TenantDirectory"]
