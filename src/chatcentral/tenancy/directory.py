"""Which shop a webhook is for: `phone_number_id` → shop, cached in process.

Entries live a short time (TTL) and are dropped at once when the registry announces a
change on the `chatcentral_tenants` channel; unknown numbers are cached briefly too, so
a flood for a number that is not ours never reaches the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.config import Settings
from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import make_engine
from chatcentral.models.central import Plan, Tenant

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
    Plan.code.label("plan"),
    Plan.monthly_message_quota,
    Plan.features,
    Plan.active_product_limit,
)


def _shops() -> Any:
    """SELECT of `_COLUMNS`: each shop with its plan."""
    return select(*_COLUMNS).join_from(Tenant, Plan, Plan.id == Tenant.plan_id)


class TenantDirectory:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        capacity: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._capacity = capacity
        self._clock = clock
        self._by_number: dict[str, tuple[float, Shop | None]] = {}

    def __len__(self) -> int:
        """Numbers cached, known and unknown (expired ones until the next sweep)."""
        return len(self._by_number)

    async def by_phone_number_id(self, phone_number_id: str) -> Shop | None:
        """The shop for this number (active or not), or None when no shop has it."""
        cached = self._by_number.get(phone_number_id)
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        shop = await self._load(Tenant.phone_number_id == phone_number_id)
        expires = now + (self._ttl if shop is not None else self._negative_ttl)
        if len(self._by_number) >= self._capacity:
            self._sweep(now)
        self._by_number[phone_number_id] = (expires, shop)
        return shop

    def _sweep(self, now: float) -> None:
        """Drop expired entries; everything if that is not enough. Unknown numbers are
        cached too, so without this a stream of made-up numbers would grow it for good."""
        self._by_number = {n: e for n, e in self._by_number.items() if e[0] > now}
        if len(self._by_number) >= self._capacity:
            self._by_number.clear()

    def invalidate(self, phone_number_id: str = "") -> None:
        """Forget one number, or everything when called with an empty string."""
        if phone_number_id:
            self._by_number.pop(phone_number_id, None)
        else:
            self._by_number.clear()

    async def _load(self, condition: Any) -> Shop | None:
        query = _shops().where(condition)
        # Ended by COMMIT, not ROLLBACK: a rollback makes psycopg drop every statement it
        # prepared on the connection (DEALLOCATE ALL), the message path's included.
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else shop_of(row)


def shop_of(row: Row[Any]) -> Shop:
    """The engine's view of a `central.tenants` row selected with `_COLUMNS`."""
    return Shop(
        id=row.id,
        slug=row.slug,
        schema=row.schema_name,
        name=row.name,
        phone_number_id=row.phone_number_id,
        display_phone=row.display_phone,
        flow=row.flow,
        active=row.active,
        timezone=row.timezone,
        currency=row.currency,
        business_hours=row.business_hours or {},
        settings=row.settings or {},
        admin_phones=tuple(row.admin_phones or ()),
        access_token_encrypted=row.access_token_encrypted,
        plan=row.plan,
        message_quota=row.monthly_message_quota,
        features=frozenset(row.features or ()),
        product_limit=row.active_product_limit,
    )


async def shop_by_id(conn: AsyncConnection, tenant_id: int) -> Shop | None:
    """One shop by its id, read on the caller's connection (the admin API, per request)."""
    row = (await conn.execute(_shops().where(Tenant.id == tenant_id))).first()
    return None if row is None else shop_of(row)


async def load_shops(engine: AsyncEngine, slug: str | None = None) -> list[Shop]:
    """Every active shop (or the one named, active or not), for the periodic jobs and
    commands that go over shops rather than answer one webhook."""
    query = _shops().order_by(Tenant.id)
    query = query.where(Tenant.slug == slug) if slug else query.where(Tenant.active)
    async with engine.connect() as conn:
        return [shop_of(row) for row in (await conn.execute(query)).all()]


T = TypeVar("T")


def run_for_shop(
    url: str,
    settings: Settings,
    slug: str,
    call: Callable[[AsyncEngine, Shop], Awaitable[T]],
    error: type[Exception],
) -> T:
    """`call(engine, shop)` for the shop `slug` (active or not) on a fresh async engine,
    from synchronous code (CLI commands); `error` when no shop has that slug."""

    async def run() -> T:
        engine = make_engine(url, settings)
        try:
            shops = await load_shops(engine, slug)
            if not shops:
                raise error(f"no tenant with slug {slug!r}")
            return await call(engine, shops[0])
        finally:
            await engine.dispose()

    return asyncio.run(run())


__all__ = ["Shop", "TenantDirectory", "load_shops", "run_for_shop", "shop_by_id", "shop_of"]
