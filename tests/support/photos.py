"""A product's photo stored the way the panel stores it (`attach_photo`), for tests that
need one in place before they start."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.db.engine import TenantBinder
from chatcentral.media.store import Store
from chatcentral.products.photos import attach_photo
from chatcentral.tenancy.directory import shop_by_id


async def give_photo(
    engine: AsyncEngine,
    store: Store,
    shop_id: int,
    schema: str,
    photo: bytes,
    product: int | None = None,
) -> str:
    """Store the PNG `photo` as the product's (by default the shop's lowest product id);
    return its key."""
    async with engine.begin() as conn:
        found = await shop_by_id(conn, shop_id)
        assert found is not None
        bound = await TenantBinder.bind(conn, schema)
        if product is None:
            product = (
                await bound.execute(text(f"SELECT min(id) FROM {schema}.products"))
            ).scalar_one()
        key = await attach_photo(bound, store, found, product, photo, "image/png")
    assert key is not None
    return key
