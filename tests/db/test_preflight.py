"""`chatcentral check`: configuration, schemas, flows, Graph API (respx) and S3 (moto)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest
import respx
from cryptography.fernet import Fernet
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy import Engine, text

from chatcentral.cli import main
from chatcentral.config import Settings, get_settings
from chatcentral.db.databases import drop_database, recreate_database, with_database
from chatcentral.db.engine import make_sync_engine
from chatcentral.db.migrations import head_revision
from chatcentral.preflight import check_engine, run_checks, startup_failures
from chatcentral.preflight.database import connection_failure
from chatcentral.tenancy.demo import ensure_demo_tenants
from chatcentral.tenancy.provisioning import provision_tenant
from tests.support.factories import spec

GRAPH = "https://graph.facebook.com/v25.0"


def failures(results: list[object]) -> list[str]:
    return [str(r) for r in results if not r.ok]  # type: ignore[attr-defined]


def test_a_ready_installation_passes_offline(settings: Settings, sync_engine: Engine) -> None:
    provision_tenant(sync_engine, spec("lista", "5000001"))
    results = run_checks(settings, sync_engine, offline=True)
    assert failures(results) == []
    assert [r.name for r in results] == [
        "configuration",
        "database",
        "shop schemas",
        "graph api config",
        "token key",
        "flow grocery",
    ]


def test_missing_secrets_and_old_schemas_fail_with_what_to_do(
    settings: Settings, sync_engine: Engine
) -> None:
    provision_tenant(sync_engine, spec("vieja", "5000002"), revision="t0001")
    bare = settings.model_copy(update={"whatsapp_app_secret": None})
    problems = failures(run_checks(bare, sync_engine, offline=True))
    head = head_revision("tenant")
    assert problems == [
        "FAIL configuration: WHATSAPP_APP_SECRET is not set: POST /webhook cannot be verified; "
        "fix: set WHATSAPP_APP_SECRET (Meta app dashboard → App settings → Basic → App secret) "
        "in the environment or .env",
        f"FAIL shop schemas: shop schemas not at {head}: 1 behind head (vieja); "
        "fix: run `chatcentral migrate`",
    ]


@respx.mock
def test_the_graph_api_check_uses_each_shops_number_and_token(
    settings: Settings, sync_engine: Engine
) -> None:
    provision_tenant(sync_engine, spec("buena", "5000003"))
    provision_tenant(sync_engine, spec("mala", "5000004"))
    good = respx.get(f"{GRAPH}/5000003").mock(
        return_value=httpx.Response(
            200, json={"display_phone_number": "+52 55 1234 5678", "quality_rating": "GREEN"}
        )
    )
    respx.get(f"{GRAPH}/5000004").mock(
        return_value=httpx.Response(401, json={"error": {"code": 190, "message": "expired"}})
    )
    results = run_checks(settings, sync_engine, offline=False)
    assert good.calls[0].request.headers["Authorization"] == "Bearer test-access-token"
    by_name = {r.name: r for r in results}
    assert by_name["graph api buena"].ok and "quality GREEN" in by_name["graph api buena"].detail
    assert not by_name["graph api mala"].ok
    assert "token rejected" in by_name["graph api mala"].detail
    assert by_name["s3"].ok  # no bucket configured: nothing to check


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield f"http://{host}:{port}"
    server.stop()


def test_the_s3_check_finds_the_bucket_or_says_it_is_missing(
    settings: Settings, sync_engine: Engine, moto_s3: str
) -> None:
    boto3.client("s3", region_name="us-east-1", endpoint_url=moto_s3).create_bucket(
        Bucket="chatcentral-media"
    )
    present = settings.model_copy(
        update={
            "chatcentral_s3_bucket": "chatcentral-media",
            "aws_endpoint_url": moto_s3,
            "aws_region": "us-east-1",
        }
    )
    s3 = next(r for r in run_checks(present, sync_engine, offline=False) if r.name == "s3")
    assert s3.ok and "chatcentral-media reachable" in s3.detail
    missing = present.model_copy(update={"chatcentral_s3_bucket": "no-such-bucket"})
    s3 = next(r for r in run_checks(missing, sync_engine, offline=False) if r.name == "s3")
    assert not s3.ok and "no-such-bucket" in s3.detail


def test_the_command_exits_1_when_a_check_fails(
    cli_env: str,
    sync_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chatcentral.config import get_settings

    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "v")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "t")
    get_settings.cache_clear()
    assert main(["check", "--offline"]) == 0
    assert "ok   database" in capsys.readouterr().out
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE central.alembic_version SET version_num = 'c0001'"))
    assert main(["check", "--offline"]) == 1
    assert (
        "central schema is at c0001, behind " + head_revision("central") + "; "
        "fix: run `chatcentral migrate`"
    ) in capsys.readouterr().err


# --- every failure names its cause and its fix ------------------------------------------------

DEV_ENV = {  # what `make run` reads from .env.example
    "WHATSAPP_APP_SECRET": "dev-app-secret-change-me",
    "WHATSAPP_VERIFY_TOKEN": "dev-verify-token-change-me",
    "WHATSAPP_ACCESS_TOKEN": "dev-access-token",
}
REAL_ENV = {
    "WHATSAPP_APP_SECRET": "9f2c1e7a5b3d4c6e8a0b1c2d3e4f5a6b",
    "WHATSAPP_VERIFY_TOKEN": "b7Q2xY9kLm3Np8Rs",
    "WHATSAPP_ACCESS_TOKEN": "EAAGm0PX4ZCpsBAKZAZCexampletoken",
}


@pytest.fixture
def empty_db(pg_admin_url: str) -> Iterator[str]:
    """A database with nothing in it: no central schema, no shops."""
    name = f"cc_empty_{uuid.uuid4().hex[:12]}"
    yield recreate_database(pg_admin_url, name)
    drop_database(pg_admin_url, name)


def use_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in (*DEV_ENV, "CHATCENTRAL_ENV", "WHATSAPP_API_BASE_URL", "CHATCENTRAL_TOKEN_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_an_empty_database_is_reachable_and_needs_chatcentral_migrate(
    empty_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(monkeypatch, tmp_path, DATABASE_URL=empty_db, **DEV_ENV)
    assert main(["check", "--offline"]) == 1
    err = capsys.readouterr().err
    assert "unreachable" not in err
    name = empty_db.rsplit("/", 1)[1].split("?")[0]
    assert (
        f"FAIL database: database '{name}' on " in err
        and "is reachable but the central schema is missing (an empty database); "
        "fix: run `chatcentral migrate`"
        in err
    )


def test_a_fresh_migrated_set_up_prints_all_ok(
    empty_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(monkeypatch, tmp_path, DATABASE_URL=empty_db, **DEV_ENV)
    assert main(["migrate"]) == 0
    engine = make_sync_engine(empty_db)
    try:
        ensure_demo_tenants(engine)  # what `make run` adds (`run --demo`)
    finally:
        engine.dispose()
    capsys.readouterr()
    assert main(["check", "--offline"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert [line.split(":")[0] for line in lines] == [
        "ok   configuration",
        "ok   database",
        "ok   shop schemas",
        "ok   graph api config",
        "ok   token key",
        "ok   flow grocery",
        "ok   flow water_delivery",
    ]
    assert "2 shop schema(s) at head" in out


def test_production_refuses_to_run_while_a_check_fails(
    empty_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def never(*args: object) -> object:
        raise AssertionError("chatcentral run started serving")

    monkeypatch.setattr("chatcentral.cli._bind", never)
    use_env(
        monkeypatch,
        tmp_path,
        DATABASE_URL=empty_db,
        CHATCENTRAL_ENV="production",
        WHATSAPP_API_BASE_URL="http://127.0.0.1:8001",
        **DEV_ENV,
    )
    assert main(["run", "--port", "0"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "FAIL configuration: WHATSAPP_APP_SECRET still has the development value from "
        ".env.example; fix: set WHATSAPP_APP_SECRET to the real value "
        "(Meta app dashboard → App settings → Basic → App secret)"
    )
    assert err[1].startswith("FAIL configuration: WHATSAPP_VERIFY_TOKEN still has the development")
    assert "central schema is missing" in err[2] and "run `chatcentral migrate`" in err[2]
    assert err[3].startswith(
        "FAIL graph api config: WHATSAPP_API_BASE_URL is http://127.0.0.1:8001, a fake Cloud "
        "API on this machine"
    ) and err[3].endswith("fix: unset WHATSAPP_API_BASE_URL (default https://graph.facebook.com)")
    assert err[-1].startswith("chatcentral: error: CHATCENTRAL_ENV=production: not starting")
    # The database was left as found: production never migrates behind the operator's back.
    engine = make_sync_engine(empty_db)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regnamespace('central')")).scalar() is None
    finally:
        engine.dispose()


def test_production_starts_when_every_check_passes(
    settings: Settings, db_url: str, sync_engine: Engine
) -> None:
    provision_tenant(sync_engine, spec("lista", "5000001"))
    production = settings.model_copy(
        update={
            "chatcentral_env": "production",
            **{k.lower(): SecretStr(v) for k, v in REAL_ENV.items()},
        }
    )
    assert startup_failures(production, db_url) == []
    # The same set-up with .env.example's token is refused, naming the setting.
    placeholder = production.model_copy(
        update={"whatsapp_access_token": SecretStr("dev-access-token")}
    )
    [problem] = startup_failures(placeholder, db_url)
    assert str(problem) == (
        "FAIL graph api config: WHATSAPP_ACCESS_TOKEN still has the development value from "
        ".env.example; fix: set WHATSAPP_ACCESS_TOKEN (a system user's permanent token, "
        "Meta Business settings)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_closed_port_is_an_unreachable_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there any more
    url = f"postgresql://chatcentral:secret@127.0.0.1:{port}/chatcentral"
    use_env(monkeypatch, tmp_path, DATABASE_URL=url, **DEV_ENV)
    assert main(["check", "--offline"]) == 1
    err = capsys.readouterr().err
    assert (
        f"FAIL database: cannot reach the PostgreSQL server at 127.0.0.1:{port} "
        "(connection refused); fix: start PostgreSQL there, or fix the host and port in "
        "DATABASE_URL (unset it to use the embedded server)"
    ) in err
    assert "secret" not in err


def test_a_missing_database_is_told_apart_from_a_missing_server(
    settings: Settings, pg_admin_url: str
) -> None:
    url = with_database(pg_admin_url, "no_such_db")
    engine = check_engine(url)
    try:
        [result] = [r for r in run_checks(settings, engine, offline=True) if r.name == "database"]
    finally:
        engine.dispose()
    assert not result.ok
    assert "answers but database 'no_such_db' does not exist" in result.detail
    assert result.fix.startswith("create it (`createdb -O")
    assert result.fix.endswith("then run `chatcentral migrate`")


def test_a_refused_login_names_the_credentials(sync_engine: Engine) -> None:
    # What libpq says when the password is wrong (the test server trusts local logins).
    refused = psycopg.OperationalError(
        'connection failed: FATAL:  password authentication failed for user "shop"'
    )
    result = connection_failure(sync_engine, refused)
    assert "(authentication failed)" in result.detail
    assert result.fix == "fix the user and password in DATABASE_URL (or the server's pg_hba.conf)"


def test_shop_tokens_need_the_key_they_were_stored_with(
    settings: Settings, sync_engine: Engine
) -> None:
    provision_tenant(
        sync_engine, spec("propia", "5000009", access_token="EAAshop"), settings=settings
    )
    other_key = settings.model_copy(
        update={"chatcentral_token_key": SecretStr(Fernet.generate_key().decode())}
    )
    by_name = {r.name: r for r in run_checks(other_key, sync_engine, offline=True)}
    assert not by_name["token key"].ok
    assert "does not decrypt the tokens of 1 shop(s) (propia)" in by_name["token key"].detail
    unset = settings.model_copy(update={"chatcentral_token_key": None})
    by_name = {r.name: r for r in run_checks(unset, sync_engine, offline=True)}
    assert by_name["token key"].fix == (
        "set CHATCENTRAL_TOKEN_KEY to the key those tokens were stored with"
    )
    assert by_name["token key"].ok is False
    assert {r.name: r for r in run_checks(settings, sync_engine, offline=True)}["token key"].ok


def test_a_shop_without_any_token_is_named(settings: Settings, sync_engine: Engine) -> None:
    provision_tenant(sync_engine, spec("sola", "5000010"))
    provision_tenant(
        sync_engine, spec("propia", "5000011", access_token="EAAown"), settings=settings
    )
    no_default = settings.model_copy(update={"whatsapp_access_token": None})
    by_name = {r.name: r for r in run_checks(no_default, sync_engine, offline=True)}
    assert str(by_name["graph api config"]) == (
        "FAIL graph api config: WHATSAPP_ACCESS_TOKEN is not set: 1 active shop(s) without a "
        "token of their own (sola) cannot send; fix: set WHATSAPP_ACCESS_TOKEN (a system "
        "user's permanent token, Meta Business settings)"
    )
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE central.tenants SET active = false WHERE slug = 'sola'"))
    by_name = {r.name: r for r in run_checks(no_default, sync_engine, offline=True)}
    assert by_name["graph api config"].ok
    assert "every active shop has its own token" in by_name["graph api config"].detail
