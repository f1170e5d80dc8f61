"""The `chatcentral` command as an operator uses it: clear output, one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from chatcentral.cli import main
from chatcentral.models.central import AuditLog, Tenant
from chatcentral.resources import resource_dir

CREATE = [
    "tenant",
    "create",
    "--slug",
    "verduleria-don-pepe",
    "--name",
    "Verdulería Don Pepe",
    "--phone-number-id",
    "5550001",
    "--display-phone",
    "+52 33 1234 5678",
    "--flow",
    "grocery",
    "--admin-phone",
    "+52 33 8765 4321",
    "--admin-phone",
    "3311112222",
]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_tenant_create_list_deactivate(
    cli_env: str, sync_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = resource_dir("flows") / "catalogs" / "grocery.csv"
    assert main([*CREATE, "--plan", "complete", "--catalog", str(catalog)]) == 0
    assert "created tenant verduleria-don-pepe" in capsys.readouterr().out

    assert main(["tenant", "list"]) == 0
    listing = capsys.readouterr().out
    assert "verduleria-don-pepe" in listing and "complete" in listing and "yes" in listing

    assert main(["tenant", "deactivate", "verduleria-don-pepe"]) == 0
    with sync_engine.connect() as conn:
        tenant = conn.execute(select(Tenant).where(Tenant.slug == "verduleria-don-pepe")).one()
        actions = conn.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert tenant.active is False
    assert tenant.admin_phones == ["+523387654321", "+523311112222"]
    assert actions == ["tenant.create", "tenant.deactivate"]


def test_duplicates_exit_non_zero_with_one_line(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(CREATE) == 0
    capsys.readouterr()
    assert main(CREATE) == 1
    assert _one_line_error(capsys) == (
        "chatcentral: error: slug 'verduleria-don-pepe' is already taken"
    )
    other = [*CREATE]
    other[other.index("verduleria-don-pepe")] = "otra"
    assert main(other) == 1
    assert "phone-number-id 5550001 already belongs to tenant" in _one_line_error(capsys)


def test_bad_csv_row_is_rejected_with_its_line_and_nothing_is_made(
    cli_env: str, sync_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "catalogo.csv"
    csv.write_text(
        "name,category,price,unit,description,stock,active\n"
        "Manzana,Frutas,40.00,KG,,,true\n"
        "Pera,Frutas,cuarenta,KG,,,true\n",
        encoding="utf-8",
    )
    assert main([*CREATE, "--catalog", str(csv)]) == 1
    assert _one_line_error(capsys).endswith(
        "catalogo.csv:3: price 'cuarenta' is not a number like 23.50"
    )
    with sync_engine.connect() as conn:
        assert conn.execute(select(Tenant.id)).all() == []


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["tenant", "create", "--slug", "x"], "the following arguments are required"),
        ([*CREATE[:-4], "--flow", "pizza"], "invalid choice: 'pizza'"),
        (["run", "--port", "http"], "'http' is not a whole number"),
        (["run", "--port", "70000"], "not between 0 and 65535"),
        (["migrate", "--workers", "0"], "must be 1 or more"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert fragment in _one_line_error(capsys)


def test_bad_values_exit_non_zero_with_one_line(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_slug = [*CREATE]
    bad_slug[bad_slug.index("verduleria-don-pepe")] = "Don Pepe"
    assert main(bad_slug) == 1
    assert "invalid slug 'Don Pepe'" in _one_line_error(capsys)
    assert main(["tenant", "deactivate", "nadie"]) == 1
    assert _one_line_error(capsys) == "chatcentral: error: no tenant with slug 'nadie'"
    assert main([*CREATE, "--access-token-env", "NO_SUCH_VARIABLE_HERE"]) == 1
    assert "NO_SUCH_VARIABLE_HERE is empty or unset" in _one_line_error(capsys)


def test_a_bad_setting_stops_the_command_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chatcentral.config import get_settings

    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    get_settings.cache_clear()
    try:
        assert main(["tenant", "list"]) == 2
    finally:
        get_settings.cache_clear()
    assert _one_line_error(capsys).startswith("chatcentral: error: DATABASE_URL:")


def test_migrate_command_reports_counts(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CREATE) == 0
    assert main(["migrate", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 upgraded, 1 already current, 0 failed" in out


def test_provision_script_wraps_tenant_create(cli_env: str, sync_engine: Engine) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    args = CREATE[2:]  # without "tenant create"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "provision_tenant.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "created tenant verduleria-don-pepe" in done.stdout
    again = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "provision_tenant.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert again.stderr.strip() == "chatcentral: error: slug 'verduleria-don-pepe' is already taken"


def test_a_new_flow_file_is_a_flow_choice_without_code(
    cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync_engine: Engine
) -> None:
    import shutil

    from chatcentral.conversation import flow

    folder = tmp_path / "flows"
    shutil.copytree(resource_dir("flows"), folder)
    grocery = (folder / "grocery.yaml").read_text(encoding="utf-8")
    dry = grocery.replace("name: grocery", "name: dry_cleaning")
    (folder / "dry_cleaning.yaml").write_text(dry, encoding="utf-8")
    monkeypatch.setattr(flow, "resource_dir", lambda name: folder)
    argv = [
        *CREATE[: CREATE.index("--flow") + 1],
        "dry_cleaning",
        *CREATE[CREATE.index("--flow") + 2 :],
    ]
    assert main(argv) == 0
    with sync_engine.connect() as conn:
        assert conn.execute(select(Tenant.flow)).scalar_one() == "dry_cleaning"


def test_tenant_admin_add_remove_list(
    cli_env: str, sync_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(CREATE) == 0
    capsys.readouterr()
    assert main(["tenant", "admin", "add", "verduleria-don-pepe", "5213399990000"]) == 0
    assert capsys.readouterr().out.strip() == (
        "admins of verduleria-don-pepe: +523387654321, +523311112222, +523399990000"
    )
    assert main(["tenant", "admin", "remove", "verduleria-don-pepe", "+52 33 8765 4321"]) == 0
    capsys.readouterr()
    assert main(["tenant", "admin", "list", "verduleria-don-pepe"]) == 0
    assert capsys.readouterr().out.split() == ["+523311112222", "+523399990000"]
    with sync_engine.connect() as conn:
        actions = conn.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions[-2:] == ["tenant.admin.add", "tenant.admin.remove"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["tenant", "admin", "add", "nadie", "5512345678"], "no tenant with slug 'nadie'"),
        (["tenant", "admin", "add", "verduleria-don-pepe", "hola"], "is not a phone number"),
        (["tenant", "admin", "remove", "verduleria-don-pepe", "5599999999"], "is not an admin"),
    ],
)
def test_tenant_admin_bad_input_is_one_line(
    cli_env: str, argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(CREATE) == 0
    capsys.readouterr()
    assert main(argv) == 1
    assert fragment in _one_line_error(capsys)


def test_the_last_admin_cannot_be_removed(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CREATE) == 0
    assert main(["tenant", "admin", "remove", "verduleria-don-pepe", "3311112222"]) == 0
    capsys.readouterr()
    assert main(["tenant", "admin", "remove", "verduleria-don-pepe", "3387654321"]) == 1
    assert "is the only admin" in _one_line_error(capsys)


def test_tenant_plan_changes_it_audited_and_refuses_a_plan_too_small_for_the_catalog(
    cli_env: str, sync_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = resource_dir("flows") / "catalogs" / "grocery.csv"
    assert main([*CREATE, "--plan", "complete", "--catalog", str(catalog)]) == 0
    capsys.readouterr()
    assert main(["tenant", "plan", "verduleria-don-pepe", "premium"]) == 0
    assert "plan complete → premium" in capsys.readouterr().out
    with sync_engine.begin() as conn:
        # Básico allows 50 active products; this shop would have 60.
        conn.execute(
            text(
                "INSERT INTO tenant_verduleria_don_pepe.products (category_id, name, price, unit, "
                "active) SELECT (SELECT min(id) FROM tenant_verduleria_don_pepe.categories), "
                "'Extra ' || n, 10, 'PIECE', true FROM generate_series(1, 60 - "
                "(SELECT count(*) FROM tenant_verduleria_don_pepe.products WHERE active)) n"
            )
        )
    assert main(["tenant", "plan", "verduleria-don-pepe", "basic"]) == 1
    assert "60 active products" in _one_line_error(capsys)
    assert main(["tenant", "plan", "verduleria-don-pepe", "gold"]) == 1
    assert "unknown plan 'gold'" in _one_line_error(capsys)
    with sync_engine.connect() as conn:
        plan = conn.execute(
            text(
                "SELECT p.code FROM central.tenants t JOIN central.plans p ON p.id = t.plan_id "
                "WHERE t.slug = 'verduleria-don-pepe'"
            )
        ).scalar_one()
        audited = (
            conn.execute(select(AuditLog.details).where(AuditLog.action == "tenant.plan"))
            .scalars()
            .all()
        )
    assert plan == "premium"
    assert audited == [{"from": "complete", "to": "premium"}]
