"""A shop's stored files travel with `chatcentral tenant export` / `import` and go with
`tenant delete`: a customer's receipt kept by the worker (fetched from the fake Cloud
API) and a product's photo, in moto's S3 server and in the local store, through the CLI
and the transfer functions against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from chatcentral.config import Settings, get_settings
from chatcentral.db.engine import TenantBinder, make_sync_engine
from chatcentral.media.job import MediaJob
from chatcentral.media.store import LocalStore, Store, make_store
from chatcentral.products.photos import attach_photo
from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.tenancy.directory import load_shops, shop_by_id
from chatcentral.tenancy.transfer.archive import TransferError
from chatcentral.tenancy.transfer.delete import delete_tenant
from chatcentral.tenancy.transfer.export import export_tenant
from chatcentral.tenancy.transfer.import_ import import_tenant
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.db.test_media import RECEIPT, Sender, graph
from tests.db.test_tenant_transfer import all_sent, cli, other_db, read_members, write_members
from tests.support.images import png
from tests.support.photos import give_photo
from tests.support.s3 import moto_s3, objects, with_bucket

__all__ = ["graph", "moto_s3", "other_db"]  # fixtures, for this module's tests

PHOTO = png()
Client = tuple[httpx.AsyncClient, Starlette]


async def keep_a_receipt_and_a_photo(
    client: httpx.AsyncClient,
    sync_engine: Engine,
    async_engine: AsyncEngine,
    store: Store,
    settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
) -> tuple[str, str]:
    """Ana sends a transfer receipt (the worker keeps it) and the shop gives its first
    product a photo; the keys of both."""
    ana = Sender(client, sync_engine, "1110001")
    fake_cloud.put_media("8801", RECEIPT, "application/pdf")
    await ana.sends("document", "8801", RECEIPT, "application/pdf", filename="pago.pdf")
    [shop] = await load_shops(async_engine, "tienda")
    done = await MediaJob(async_engine, graph, store, settings).run_shop(shop)
    assert [o.state for o in done.outcomes] == ["stored"]
    photo = await give_photo(async_engine, store, shop.id, shop.schema, PHOTO)
    all_sent(sync_engine)
    return media_keys(sync_engine, "tenant_tienda")[0], photo


def media_keys(engine: Engine, schema: str) -> list[str]:
    """The keys the shop's rows name: messages' first, then products'."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT media_key FROM {schema}.messages WHERE media_key IS NOT NULL "
                    f"UNION ALL SELECT image_key FROM {schema}.products "
                    "WHERE image_key IS NOT NULL"
                )
            ).scalars()
        )


async def stored(store: Store, key: str) -> bytes | None:
    try:
        return await store.get(key)
    except KeyError:
        return None


def use_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


async def test_receipts_and_photos_in_s3_go_with_delete_and_come_back_with_import(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
    moto_s3: str,
    fake_cloud: FakeCloud,
    graph: GraphClient,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3 = with_bucket(settings, moto_s3).model_copy(
        update={"whatsapp_api_base_url": fake_cloud.base_url}
    )
    client, _ = app_client
    receipt, photo = await keep_a_receipt_and_a_photo(
        client, sync_engine, async_engine, make_store(s3), s3, fake_cloud, graph
    )
    assert receipt.startswith("tenant_tienda/") and photo.startswith("products/tenant_tienda/")
    assert set(objects(s3)) == {receipt, photo}
    # A download cut off between storing its file and recording it: no row names it. And a
    # neighbour whose keys merely start the same way.
    store = make_store(s3)
    stray, neighbour = "tenant_tienda/2026/11/cut-off.jpg", "tenant_tiendas/kept.jpg"
    for key in (stray, neighbour):
        await store.put(key, io.BytesIO(key.encode()), "image/jpeg")
    use_env(
        monkeypatch,
        CHATCENTRAL_S3_BUCKET=s3.chatcentral_s3_bucket or "",
        AWS_ENDPOINT_URL=moto_s3,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )

    export = tmp_path / "tienda.tar.gz"
    assert await asyncio.to_thread(cli, "tenant", "export", "tienda", export) == 0
    size = len(RECEIPT) + len(PHOTO)
    assert f"2 file(s), {size} bytes" in capsys.readouterr().out
    with tarfile.open(export) as tar:
        assert tar.extractfile(f"media/{receipt}").read() == RECEIPT  # type: ignore[union-attr]
        assert tar.extractfile(f"media/{photo}").read() == PHOTO  # type: ignore[union-attr]

    kept = tmp_path / "kept.tar.gz"
    argv = ("tenant", "delete", "tienda", "--confirm", "tienda", "--export-to", kept)
    assert await asyncio.to_thread(cli, *argv) == 0
    said = capsys.readouterr().out
    assert "deleted tenant tienda and 3 file(s) from the media store (1 never recorded)" in said
    # No receipt kept forever for a shop that is gone, recorded or not.
    assert objects(s3) == {neighbour: neighbour.encode()}
    with sync_engine.connect() as conn:
        files = conn.execute(
            text(
                "SELECT details->>'files_removed' FROM central.audit_log "
                "WHERE action = 'tenant.delete'"
            )
        ).scalar_one()
    assert files == "3"

    assert await asyncio.to_thread(cli, "tenant", "import", kept) == 0
    assert "rows, 2 file(s)" in capsys.readouterr().out
    assert objects(s3) == {receipt: RECEIPT, photo: PHOTO, neighbour: neighbour.encode()}
    assert media_keys(sync_engine, "tenant_tienda") == [receipt, photo]
    get_settings.cache_clear()


async def test_files_move_to_another_installation_under_another_slug(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
    other_db: str,
    tmp_path: Path,
) -> None:
    here = LocalStore(tmp_path / "here", None)
    there = LocalStore(tmp_path / "there", None)
    client, _ = app_client
    receipt, photo = await keep_a_receipt_and_a_photo(
        client, sync_engine, async_engine, here, settings, fake_cloud, graph
    )
    path = tmp_path / "tienda.tar.gz"
    manifest = await asyncio.to_thread(export_tenant, sync_engine, "tienda", path, store=here)
    assert [part.key for part in manifest.media] == sorted([receipt, photo])
    assert manifest.media_missing == []

    other = make_sync_engine(other_db)
    try:
        made = await asyncio.to_thread(
            import_tenant, other, path, store=there, slug="tienda-2", phone_number_id="3330003"
        )
        assert made.files == 2
        # Keys follow the shop's new schema, in the rows and in the store alike.
        moved = media_keys(other, "tenant_tienda_2")
        assert moved == [
            receipt.replace("tenant_tienda/", "tenant_tienda_2/", 1),
            photo.replace("/tenant_tienda/", "/tenant_tienda_2/", 1),
        ]
        assert [await stored(there, key) for key in moved] == [RECEIPT, PHOTO]
        assert [await stored(here, key) for key in (receipt, photo)] == [RECEIPT, PHOTO]

        # A file whose media would land under another shop's keys is refused whole.
        hostile = tmp_path / "hostile.tar.gz"
        retarget(path, hostile, photo, "products/tenant_agua/1/theirs.png")
        with pytest.raises(TransferError, match="is not a file of shop schema tenant_tienda"):
            await asyncio.to_thread(import_tenant, other, hostile, store=there, slug="tienda-3")
        assert await stored(there, "products/tenant_agua/1/theirs.png") is None
    finally:
        other.dispose()


async def test_a_failed_import_takes_back_the_files_it_wrote(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
    tmp_path: Path,
) -> None:
    here = LocalStore(tmp_path / "here", None)
    client, _ = app_client
    await keep_a_receipt_and_a_photo(
        client, sync_engine, async_engine, here, settings, fake_cloud, graph
    )
    path = tmp_path / "tienda.tar.gz"
    await asyncio.to_thread(export_tenant, sync_engine, "tienda", path, store=here)
    # The photo goes in first (keys in order), then the receipt's folder cannot be made.
    broken = LocalStore(tmp_path / "broken", None)
    broken.root.mkdir()
    (broken.root / "tenant_tienda_2").write_text("a file where a folder should be")
    with pytest.raises(TransferError, match="the media store failed writing tenant_tienda_2/"):
        await asyncio.to_thread(
            import_tenant, sync_engine, path, store=broken, slug="tienda-2", phone_number_id="33303"
        )
    # The photo it wrote is gone again, and the shop is not there either.
    assert [p.name for p in broken.root.rglob("*") if p.is_file()] == ["tenant_tienda_2"]
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regnamespace('tenant_tienda_2')")).scalar() is None


def test_an_export_from_before_files_travelled_still_imports(
    shops: dict[str, ProvisionedShop], sync_engine: Engine, other_db: str, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "media", None)
    path = tmp_path / "tienda.tar.gz"
    export_tenant(sync_engine, "tienda", path, store=store)
    old = tmp_path / "old.tar.gz"
    rewrite_manifest(path, old, as_version_1)
    other = make_sync_engine(other_db)
    try:
        made = import_tenant(other, old, store=store)
        assert (made.slug, made.files) == ("tienda", 0)
        with other.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM tenant_tienda.products")).scalar()
    finally:
        other.dispose()


async def test_a_file_missing_from_the_store_is_reported_not_fatal(
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = make_store(settings)  # the local store under the test's data dir
    assert isinstance(store, LocalStore)
    [shop] = await load_shops(async_engine, "tienda")
    async with async_engine.begin() as conn:
        found = await shop_by_id(conn, shop.id)
        assert found is not None
        bound = await TenantBinder.bind(conn, shop.schema)
        first, second = (
            await bound.execute(text("SELECT id FROM tenant_tienda.products LIMIT 2"))
        ).scalars()
        lost = await attach_photo(bound, store, found, first, PHOTO, "image/png")
        kept = await attach_photo(bound, store, found, second, png(rgb=(1, 2, 3)), "image/png")
    assert lost is not None and kept is not None
    await store.delete(lost)  # gone from the store; the product still names it
    use_env(monkeypatch, CHATCENTRAL_DATA_DIR=str(settings.chatcentral_data_dir))

    path = tmp_path / "tienda.tar.gz"
    assert await asyncio.to_thread(cli, "tenant", "export", "tienda", path) == 0
    out = capsys.readouterr().out
    assert "1 file(s)" in out
    assert f"1 file(s) named by the shop's rows missing from the media store: {lost}" in out
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["media_missing"] == [lost]
    assert [part["key"] for part in manifest["media"]] == [kept]

    argv = ("tenant", "delete", "tienda", "--confirm", "tienda", "--export-to", tmp_path / "d.gz")
    assert await asyncio.to_thread(cli, *argv) == 0
    out = capsys.readouterr().out
    assert "and 1 file(s) from the media store" in out
    assert f"missing from the media store: {lost}" in out
    assert not list((store.root / "products").rglob("*.png"))
    assert await asyncio.to_thread(cli, "tenant", "import", path) == 0
    assert await store.get(kept) == png(rgb=(1, 2, 3))
    get_settings.cache_clear()


def as_version_1(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    """What an export made before files travelled looked like."""
    for name in ("schema", "media", "media_missing"):
        del manifest[name]
    manifest["format_version"] = 1
    assert not [name for name in members if name.startswith("media/")]


def retarget(path: Path, target: Path, key: str, other: str) -> None:
    def change(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
        for part in manifest["media"]:
            if part["key"] == key:
                part["key"] = other

    rewrite_manifest(path, target, change)


def rewrite_manifest(path: Path, target: Path, change: Any) -> None:
    members = read_members(path)
    manifest = json.loads(members["manifest.json"])
    change(manifest, members)
    members["manifest.json"] = json.dumps(manifest).encode()
    write_members(target, members)


class ReadOnlyStore(LocalStore):
    """The local store on a disk gone read-only: files read, none deleted."""

    async def delete(self, key: str) -> None:
        raise OSError(30, "Read-only file system")


async def test_a_store_that_cannot_delete_leaves_the_shop_in_place(
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    store = ReadOnlyStore(tmp_path / "media", None)
    [shop] = await load_shops(async_engine, "tienda")
    photo = await give_photo(async_engine, store, shop.id, shop.schema, PHOTO)
    kept = tmp_path / "kept.tar.gz"
    with pytest.raises(TransferError, match=r"failed deleting products/.*tienda is not deleted"):
        await asyncio.to_thread(
            delete_tenant, sync_engine, "tienda", confirm="tienda", export_to=kept, store=store
        )
    assert photo is not None and await store.get(photo) == PHOTO
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regnamespace('tenant_tienda')")).scalar()
        assert media_keys(sync_engine, "tenant_tienda") == [photo]
    with tarfile.open(kept) as tar:
        assert tar.extractfile(f"media/{photo}").read() == PHOTO  # type: ignore[union-attr]
