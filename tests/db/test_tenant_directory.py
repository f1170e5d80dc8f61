"""The tenant directory's cache: known and unknown numbers, and a bound on how many."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.tenancy.directory import TenantDirectory
from tests.conftest import ProvisionedShop


async def test_made_up_numbers_never_grow_the_cache_past_its_capacity(
    async_engine: AsyncEngine, shops: dict[str, ProvisionedShop]
) -> None:
    now = [0.0]
    directory = TenantDirectory(async_engine, capacity=4, clock=lambda: now[0])
    assert (await directory.by_phone_number_id("1110001")) is not None
    for n in range(12):
        assert await directory.by_phone_number_id(f"999{n:04d}") is None
        assert len(directory) <= 4
        now[0] += 1.0  # unknown numbers expire after 5 s, the shop after 30 s
    shop = await directory.by_phone_number_id("1110001")  # still right after the sweeps
    assert shop is not None and shop.id == shops["grocery"].id


async def test_a_known_number_is_answered_from_the_cache_until_it_expires(
    async_engine: AsyncEngine, shops: dict[str, ProvisionedShop]
) -> None:
    now = [0.0]
    directory = TenantDirectory(async_engine, clock=lambda: now[0])
    first = await directory.by_phone_number_id("1110001")
    assert first is not None and first.id == shops["grocery"].id
    assert await directory.by_phone_number_id("1110001") is first  # cached: same object
    now[0] += 31.0
    again = await directory.by_phone_number_id("1110001")
    assert again is not None and again is not first and again.id == first.id
