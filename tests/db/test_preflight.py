"""`chatcentral check`: configuration, schemas, flows, Graph API (respx) and S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx
import pytest
import respx
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, text

from chatcentral.cli import main
from chatcentral.config import Settings
from chatcentral.preflight import run_checks
from chatcentral.tenancy.provisioning import provision_tenant
from tests.support.factories import spec

GRAPH = "https://graph.facebook.com/v25.0"


def failures(results: list[object]) -> list[str]:
    return [str(r) for r in results if not r.ok]  # type: ignore[attr-defined]


def test_a_ready_installation_passes_offline(settings: Settings, sync_engine: Engine) -> None:
    provision_tenant(sync_engine, spec("lista", "5000001"))
    results = run_checks(settings, sync_engine, offline=True)
    assert failures(results) == []
    assert [r.name for r in results] == ["configuration", "database", "flow grocery"]


def test_missing_secrets_and_old_schemas_fail_with_what_to_do(
    settings: Settings, sync_engine: Engine
) -> None:
    provision_tenant(sync_engine, spec("vieja", "5000002"), revision="t0001")
    bare = settings.model_copy(update={"whatsapp_app_secret": None})
    problems = failures(run_checks(bare, sync_engine, offline=True))
    assert problems == [
        "FAIL configuration: WHATSAPP_APP_SECRET is not set (environment or .env)",
        "FAIL database: 1 shop schema(s) behind head (vieja): run `chatcentral migrate`",
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
    assert "FAIL database: central schema behind head" in capsys.readouterr().err
