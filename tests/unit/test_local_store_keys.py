"""The local media store lists a folder's keys (a deleted shop's files are found by them)."""

from __future__ import annotations

import io
from pathlib import Path

from chatcentral.media.store import LocalStore


async def test_keys_under_a_prefix_are_listed_nested_and_sorted_and_nothing_else(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "media", None)
    for key in (
        "tenant_tienda/2026/11/b.jpg",
        "tenant_tienda/a.pdf",
        "tenant_tiendas/other.jpg",
        "products/tenant_tienda/1.png",
    ):
        await store.put(key, io.BytesIO(b"x"), "image/jpeg")
    assert await store.keys("tenant_tienda/") == [
        "tenant_tienda/2026/11/b.jpg",
        "tenant_tienda/a.pdf",
    ]
    assert await store.keys("products/tenant_tienda/") == ["products/tenant_tienda/1.png"]
    assert await store.keys("tenant_nadie/") == []
