"""One shop at a time: `chatcentral tenant export`, `import` and `delete`, against a real
PostgreSQL, through the real CLI and the real webhook."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from chatcentral.cli import main
from chatcentral.config import Settings, get_settings
from chatcentral.db.databases import drop_database, recreate_database
from chatcentral.db.engine import make_sync_engine
from chatcentral.db.migrations import current_tenant_revision, head_revision
from chatcentral.media.store import LocalStore
from chatcentral.tenancy.provisioning import provision_tenant
from chatcentral.tenancy.secrets import decrypt_token
from chatcentral.tenancy.transfer.archive import TransferError
from chatcentral.tenancy.transfer.export import export_tenant
from chatcentral.tenancy.transfer.import_ import import_tenant
from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer
from tests.support.factories import spec

Client = tuple[httpx.AsyncClient, Starlette]


def snapshot(engine: Engine, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the schema, in id order: what must survive exactly."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
                "AND table_name <> 'alembic_version' ORDER BY 1"
            ),
            {"s": schema},
        ).scalars()
        return {
            table: [
                tuple(row)
                for row in conn.execute(text(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1'))
            ]
            for table in list(tables)
        }


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def local_store(tmp_path: Path) -> LocalStore:
    """A media store under the test's own folder (these shops keep no files)."""
    return LocalStore(tmp_path / "media", None)


def cli(*argv: str | Path) -> int:
    return main([str(arg) for arg in argv])


@pytest.fixture
def other_db(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A second installation on the same server (central schema at head, no shops)."""
    name = f"cc_other_{uuid.uuid4().hex[:12]}"
    yield recreate_database(pg_admin_url, name, template=template_db)
    drop_database(pg_admin_url, name)


def point_cli_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()


def all_sent(engine: Engine) -> None:
    """What the dispatcher would have done by now: every reply delivered."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE central.outbox SET status = 'sent', sent_at = now()"))


async def test_a_customer_mid_cart_continues_after_export_delete_and_import(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cli_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, app = app_client
    ana = Customer(client, sync_engine, "1110001")
    await ana.says("hola")
    await ana.says("1")  # Ver catálogo
    await ana.taps(ana.option_titles().index("Frutas y verduras") + 1)
    await ana.taps(ana.option_titles().index("Aguacate Hass") + 1)
    await ana.taps(1)  # Agregar al pedido
    await ana.says("1.5")
    assert "1.5 kg Aguacate Hass — $118.50" in ana.text_of_last()
    all_sent(sync_engine)
    before = snapshot(sync_engine, "tenant_tienda")
    assert before["customer_sessions"] and before["messages"]

    export = tmp_path / "tienda.tar.gz"
    assert await asyncio.to_thread(cli, "tenant", "export", "tienda", export) == 0
    assert "exported tenant tienda" in capsys.readouterr().out
    kept = tmp_path / "before-delete.tar.gz"
    assert (
        await asyncio.to_thread(
            cli, "tenant", "delete", "tienda", "--confirm", "tienda", "--export-to", kept
        )
        == 0
    )
    assert f"its export is {kept}" in capsys.readouterr().out
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regnamespace('tenant_tienda')")).scalar() is None
        assert conn.execute(text("SELECT count(*) FROM central.tenants")).scalar() == 1
        actions = conn.execute(
            text("SELECT action, tenant_id, details->>'slug' FROM central.audit_log ORDER BY id")
        ).all()
    # History stays: the shop's audit rows survive its row, slug in their details.
    assert ("tenant.create", None, "tienda") in actions
    assert actions[-1] == ("tenant.delete", None, "tienda")
    app.state.directory.invalidate()  # the NOTIFY does this in production; don't race it

    assert await asyncio.to_thread(cli, "tenant", "import", export) == 0
    assert "imported tenant tienda" in capsys.readouterr().out
    app.state.directory.invalidate()
    assert snapshot(sync_engine, "tenant_tienda") == before  # every row, exactly

    await ana.taps(1)  # Finalizar pedido: the cart she had is still hers
    assert ana.option_titles() == ["Entrega a domicilio", "Recoger en tienda"]
    await ana.taps(2)  # Recoger en tienda
    assert "118.50" in ana.text_of_last()
    with sync_engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM tenant_tienda.messages ORDER BY id")).scalars()
        assert list(ids)[-1] > max(row[0] for row in before["messages"])
        imported = conn.execute(
            text("SELECT action FROM central.audit_log ORDER BY id DESC LIMIT 1")
        ).scalar()
    assert imported == "tenant.import"


def test_the_round_trip_is_exact_and_ids_move_on(
    shops: dict[str, ProvisionedShop], sync_engine: Engine, other_db: str, tmp_path: Path
) -> None:
    odd = "Tab\there, line\nbreak, back\\slash, «ñ» \N{AVOCADO}"
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenant_tienda.products (category_id, name, description, price, "
                "unit, stock, active, position) SELECT id, :odd, NULL, 12.345, 'KG', 0.125, "
                "false, 99 FROM tenant_tienda.categories ORDER BY id LIMIT 1"
            ),
            {"odd": odd},
        )
        # An id handed out and then deleted is not handed out again after the move.
        top = conn.execute(
            text(
                "INSERT INTO tenant_tienda.customers (wa_id, name) VALUES ('5215500000001', "
                ":odd) RETURNING id"
            ),
            {"odd": odd},
        ).scalar_one()
        conn.execute(text("DELETE FROM tenant_tienda.customers WHERE id = :id"), {"id": top})
        conn.execute(
            text(
                "INSERT INTO central.monthly_usage (tenant_id, month, inbound_messages) "
                "VALUES (:id, '2026-11-01', 41)"
            ),
            {"id": shops["grocery"].id},
        )
    before = snapshot(sync_engine, "tenant_tienda")
    path = tmp_path / "tienda.tar.gz"
    manifest = export_tenant(sync_engine, "tienda", path, store=local_store(tmp_path))
    assert manifest.tenant_revision == head_revision("tenant")
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json" and "tables/products.copy" in names
    order = [part.table for part in manifest.tables]
    assert order.index("categories") < order.index("products") < order.index("order_items")

    other = make_sync_engine(other_db)
    try:
        made = import_tenant(
            other, path, store=local_store(tmp_path), slug="tienda-2", phone_number_id="3330003"
        )
        assert made.schema == "tenant_tienda_2"
        assert snapshot(other, "tenant_tienda_2") == before
        with other.begin() as conn:
            product = conn.execute(
                text("SELECT price, stock FROM tenant_tienda_2.products WHERE name = :n"),
                {"n": odd},
            ).one()
            assert tuple(product) == (Decimal("12.35"), Decimal("0.125"))
            new_id = conn.execute(
                text(
                    "INSERT INTO tenant_tienda_2.customers (wa_id, name) "
                    "VALUES ('5215500000002', 'x') RETURNING id"
                )
            ).scalar_one()
            assert new_id > top
            row = conn.execute(
                text(
                    "SELECT t.slug, t.phone_number_id, t.name, p.code, u.inbound_messages "
                    "FROM central.tenants t JOIN central.plans p ON p.id = t.plan_id "
                    "JOIN central.monthly_usage u ON u.tenant_id = t.id"
                )
            ).one()
        assert tuple(row) == ("tienda-2", "3330003", "Abarrotes Doña Mary", "basic", 41)
    finally:
        other.dispose()


def test_an_older_export_is_migrated_to_head_on_import(
    sync_engine: Engine, other_db: str, tmp_path: Path
) -> None:
    provision_tenant(sync_engine, spec("vieja", "4440004"), revision="t0005")
    path = tmp_path / "vieja.tar.gz"
    assert (
        export_tenant(sync_engine, "vieja", path, store=local_store(tmp_path)).tenant_revision
        == "t0005"
    )
    other = make_sync_engine(other_db)
    try:
        made = import_tenant(other, path, store=local_store(tmp_path))
        assert (made.from_revision, made.revision) == ("t0005", head_revision("tenant"))
        with other.connect() as conn:
            assert current_tenant_revision(conn, "tenant_vieja") == head_revision("tenant")
    finally:
        other.dispose()


def test_import_into_another_installation_refuses_a_number_or_slug_in_use(
    shops: dict[str, ProvisionedShop],
    cli_env: str,
    other_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "tienda.tar.gz"
    assert cli("tenant", "export", "tienda", path) == 0
    capsys.readouterr()
    other = make_sync_engine(other_db)
    try:
        provision_tenant(other, spec("otra", "1110001"))
        point_cli_at(other_db, monkeypatch)

        assert cli("tenant", "import", path) == 1
        assert "phone-number-id 1110001 already belongs to tenant 'otra'" in one_line_error(capsys)
        assert cli("tenant", "import", path, "--slug", "otra", "--phone-number-id", "5550005") == 1
        assert "slug 'otra' is already taken" in one_line_error(capsys)
        with other.connect() as conn:
            assert conn.execute(text("SELECT to_regnamespace('tenant_tienda')")).scalar() is None

        assert cli("tenant", "import", path, "--phone-number-id", "5550005") == 0
        assert "imported tenant tienda" in capsys.readouterr().out
        with other.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM tenant_tienda.products")).scalar()
            number = conn.execute(
                text("SELECT phone_number_id FROM central.tenants WHERE slug = 'tienda'")
            ).scalar()
        assert (count, number) == (len(snapshot(other, "tenant_tienda")["products"]), "5550005")
        assert count and count > 10
    finally:
        other.dispose()


def rewrite(
    path: Path, target: Path, part: str, change: Any, *, fix_sha: bool, revision: str = ""
) -> None:
    """A copy of the export with one part's bytes changed (and the manifest's sha256 of it
    updated only when `fix_sha`)."""
    members = read_members(path)
    members[part] = change(members[part])
    manifest = json.loads(members["manifest.json"])
    if fix_sha:
        for entry in (*manifest["tables"], *manifest["central"]):
            if entry["path"] == part:
                entry["sha256"] = hashlib.sha256(members[part]).hexdigest()
    manifest["tenant_revision"] = revision or manifest["tenant_revision"]
    members["manifest.json"] = json.dumps(manifest).encode()
    write_members(target, members)


def read_members(path: Path) -> dict[str, bytes]:
    """Every file of an export, by name, in the archive's order."""
    with tarfile.open(path) as tar:
        return {name: tar.extractfile(name).read() for name in tar.getnames()}  # type: ignore[union-attr]


def write_members(target: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(target, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_damaged_export_is_refused_and_a_failed_import_leaves_nothing(
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cli_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "tienda.tar.gz"
    export_tenant(sync_engine, "tienda", path, store=local_store(tmp_path))
    with sync_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA tenant_tienda CASCADE"))
        conn.execute(text("DELETE FROM central.audit_log"))
        conn.execute(text("DELETE FROM central.tenants WHERE slug = 'tienda'"))

    tampered = tmp_path / "tampered.tar.gz"
    rewrite(path, tampered, "tables/products.copy", lambda d: d[:-2] + b"9\n", fix_sha=False)
    assert cli("tenant", "import", tampered) == 1
    assert "sha256 of tables/products.copy does not match" in one_line_error(capsys)

    newer = tmp_path / "newer.tar.gz"
    rewrite(path, newer, "tables/products.copy", lambda d: d, fix_sha=False, revision="t9999")
    assert cli("tenant", "import", newer) == 1
    assert "tenant revision 't9999', unknown to this chatcentral" in one_line_error(capsys)

    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(gzip.compress(b"not a tar at all"))
    assert cli("tenant", "import", garbage) == 1
    assert "is not a chatcentral export" in one_line_error(capsys)
    assert cli("tenant", "import", tmp_path / "missing.tar.gz") == 1
    assert "no such file" in one_line_error(capsys)

    # Hashes right, contents wrong: the COPY fails halfway and everything rolls back.
    broken = tmp_path / "broken.tar.gz"
    rewrite(path, broken, "tables/products.copy", lambda d: d + b"not\ta\tproduct\n", fix_sha=True)
    assert cli("tenant", "import", broken) == 1
    assert "tables/products.copy refused by the database: invalid input" in one_line_error(capsys)
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regnamespace('tenant_tienda')")).scalar() is None
        assert conn.execute(text("SELECT count(*) FROM central.tenants")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM central.audit_log")).scalar() == 0

    assert cli("tenant", "import", path) == 0  # the good file still goes in


def test_export_waits_for_undelivered_replies_unless_forced(
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cli_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO central.outbox (tenant_id, kind, recipient, payload) "
                "VALUES (:id, 'message', '5215512345678', '{}')"
            ),
            {"id": shops["grocery"].id},
        )
    path = tmp_path / "tienda.tar.gz"
    assert cli("tenant", "export", "tienda", path) == 1
    assert "1 undelivered outbox message(s)" in one_line_error(capsys)
    assert not path.exists()
    assert cli("tenant", "delete", "tienda", "--confirm", "tienda", "--export-to", path) == 1
    assert "--force" in one_line_error(capsys)
    assert cli("tenant", "export", "tienda", path, "--force") == 0
    assert "1 undelivered outbox message(s) not exported" in capsys.readouterr().out
    assert cli("tenant", "export", "tienda", path) == 1  # never overwritten
    assert "exists" in one_line_error(capsys)
    with pytest.raises(TransferError, match="no tenant with slug 'nadie'"):
        export_tenant(sync_engine, "nadie", tmp_path / "nadie.tar.gz", store=local_store(tmp_path))


def test_delete_needs_the_slug_twice_and_bad_arguments_fail_with_one_line(
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli("tenant", "delete", "tienda", "--confirm", "agua") == 1
    assert "--confirm must repeat the slug" in one_line_error(capsys)
    with pytest.raises(SystemExit) as exit_code:
        cli("tenant", "delete", "tienda")
    assert exit_code.value.code == 2
    assert "--confirm" in one_line_error(capsys)
    with pytest.raises(SystemExit) as exit_code:
        cli("tenant", "export", "tienda")
    assert exit_code.value.code == 2
    one_line_error(capsys)
    assert cli("tenant", "export", "nadie", tmp_path / "x.tar.gz") == 1
    assert "no tenant with slug 'nadie'" in one_line_error(capsys)
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM central.tenants")).scalar() == 2

    # Without --export-to, the export lands in the data dir, named by slug and time.
    monkeypatch.setenv("CHATCENTRAL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    assert cli("tenant", "delete", "agua", "--confirm", "agua") == 0
    [kept] = (tmp_path / "data" / "exports").glob("agua-*.tar.gz")
    assert str(kept) in capsys.readouterr().out
    assert cli("tenant", "import", kept, "--slug", "Agua Nueva") == 1
    assert "invalid slug 'Agua Nueva'" in one_line_error(capsys)
    assert cli("tenant", "import", kept, "--phone-number-id", "+52 55") == 1
    assert "invalid phone-number-id" in one_line_error(capsys)
    with sync_engine.connect() as conn:
        assert conn.execute(text("SELECT slug FROM central.tenants")).scalars().all() == ["tienda"]


def test_a_shops_own_token_travels_encrypted_and_needs_the_same_key(
    sync_engine: Engine, settings: Settings, other_db: str, tmp_path: Path
) -> None:
    provision_tenant(
        sync_engine, spec("propia", "6660006", access_token="EAAG-shop-token"), settings=settings
    )
    path = tmp_path / "propia.tar.gz"
    export_tenant(sync_engine, "propia", path, store=local_store(tmp_path))
    assert b"EAAG-shop-token" not in gzip.decompress(path.read_bytes())
    other = make_sync_engine(other_db)
    try:
        another_key = settings.model_copy(
            update={"chatcentral_token_key": SecretStr(Fernet.generate_key().decode())}
        )
        with pytest.raises(TransferError, match="cannot be decrypted here"):
            import_tenant(other, path, store=local_store(tmp_path), settings=another_key)
        import_tenant(other, path, store=local_store(tmp_path), settings=settings)
        with other.connect() as conn:
            token = conn.execute(
                text("SELECT access_token_encrypted FROM central.tenants WHERE slug = 'propia'")
            ).scalar_one()
        assert decrypt_token(settings, token) == "EAAG-shop-token"
    finally:
        other.dispose()
