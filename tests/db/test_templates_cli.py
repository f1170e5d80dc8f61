"""`chatcentral templates sync|status` and `tenant set --waba-id`, the Graph API mocked with
respx: what is submitted, under which name, with which token, and what an operator reads."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from sqlalchemy import Engine, select, text

from chatcentral.cli import main
from chatcentral.config import get_settings
from chatcentral.models.central import AuditLog, Tenant
from tests.conftest import ProvisionedShop

GRAPH = "https://graph.facebook.com/v25.0"
WABA = "102290129340398"
TEMPLATES = f"{GRAPH}/{WABA}/message_templates"


@pytest.fixture
def cli(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "operator-token")
    monkeypatch.delenv("WHATSAPP_API_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_shop_without_a_waba_id_is_told_how_to_set_it(
    cli: None, shops: dict[str, ProvisionedShop], capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("sync", "status"):
        assert main(["templates", command, "tienda"]) == 1
        assert one_line_error(capsys) == (
            "chatcentral: error: shop 'tienda' has no WhatsApp Business Account id; "
            "set it with `chatcentral tenant set tienda --waba-id ID`"
        )
    assert main(["templates", "sync", "nadie"]) == 1
    assert one_line_error(capsys) == "chatcentral: error: no tenant with slug 'nadie'"


def test_tenant_set_waba_id_is_checked_and_audited(
    cli: None,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tenant", "set", "tienda", "--waba-id", "WABA-1"]) == 1
    assert "invalid WABA id 'WABA-1'" in one_line_error(capsys)
    assert main(["tenant", "set", "tienda", "--waba-id", WABA]) == 0
    assert main(["tenant", "set", "tienda", "--waba-id", "999999999"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"tenant tienda: WABA id {WABA}",
        f"tenant tienda: WABA id 999999999 (was {WABA})",
    ]
    with sync_engine.connect() as conn:
        waba = conn.execute(select(Tenant.waba_id).where(Tenant.slug == "tienda")).scalar()
        audit = conn.execute(
            select(AuditLog.action, AuditLog.details)
            .where(AuditLog.action == "tenant.update")
            .order_by(AuditLog.id)
        ).all()
    assert waba == "999999999"
    assert [tuple(a) for a in audit] == [
        ("tenant.update", {"waba_id": {"from": None, "to": WABA}}),
        ("tenant.update", {"waba_id": {"from": WABA, "to": "999999999"}}),
    ]


@respx.mock
def test_sync_submits_each_shipped_template_under_the_shops_name_and_language(
    cli: None,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tenant", "set", "tienda", "--waba-id", WABA]) == 0
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET settings = settings || "
                """'{"templates": {"nuevo_pedido": {"name": "pedido_nuevo_v2"}}}'::jsonb """
                "WHERE slug = 'tienda'"
            )
        )
    capsys.readouterr()
    answers = [
        httpx.Response(200, json={"id": "5941", "status": "PENDING", "category": "UTILITY"}),
        httpx.Response(
            400,
            json={
                "error": {
                    "message": "Invalid parameter",
                    "type": "OAuthException",
                    "code": 100,
                    "error_subcode": 2388024,
                    "error_user_msg": "Content in this language already exists",
                }
            },
        ),
        httpx.Response(400, json={"error": {"message": "(#100) Invalid parameter", "code": 100}}),
    ]
    ours: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["name"] != "pedido_nuevo_v2":
            return httpx.Response(200, json={"id": "1", "status": "PENDING"})  # other templates
        ours.append(request)
        return answers.pop(0)

    respx.post(TEMPLATES).mock(side_effect=answer)

    assert main(["templates", "sync", "tienda"]) == 0
    assert "submitted pedido_nuevo_v2 (es_MX): PENDING (id 5941)\n" in capsys.readouterr().out
    request = ours[0]
    assert request.headers["Authorization"] == "Bearer operator-token"
    body = json.loads(request.content)
    assert (body["name"], body["language"], body["category"]) == (
        "pedido_nuevo_v2",
        "es_MX",
        "UTILITY",
    )
    body_component, buttons = body["components"]
    assert body_component["type"] == "BODY" and "{{7}}" in body_component["text"]
    assert len(body_component["example"]["body_text"][0]) == 7
    assert buttons == {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Confirmar"},
            {"type": "QUICK_REPLY", "text": "En camino"},
            {"type": "QUICK_REPLY", "text": "Cancelar"},
        ],
    }

    # Again: already there is fine; a refusal is one line on stderr and exit 1.
    assert main(["templates", "sync", "tienda"]) == 0
    assert "exists    pedido_nuevo_v2 (es_MX): already submitted" in capsys.readouterr().out
    assert main(["templates", "sync", "tienda"]) == 1
    assert one_line_error(capsys) == (
        "failed    pedido_nuevo_v2 (es_MX): HTTP 400, code 100: (#100) Invalid parameter"
    )
    assert len(ours) == 3


@respx.mock
def test_status_reports_what_meta_decided_for_the_language_the_shop_sends(
    cli: None, shops: dict[str, ProvisionedShop], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "set", "tienda", "--waba-id", WABA]) == 0
    capsys.readouterr()
    answers = [
        httpx.Response(
            200,
            json={
                "data": [
                    {"name": "nuevo_pedido", "language": "en_US", "status": "REJECTED"},
                    {"name": "nuevo_pedido", "language": "es_MX", "status": "APPROVED"},
                    {"name": "nuevo_pedido_viejo", "language": "es_MX", "status": "PAUSED"},
                ],
                "paging": {"cursors": {"before": "a", "after": "b"}},
            },
        ),
        httpx.Response(200, json={"data": []}),
        httpx.Response(401, json={"error": {"message": "Expired token", "code": 190}}),
    ]
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.params["name"]
        asked.append(name)
        if name != "nuevo_pedido":
            return httpx.Response(200, json={"data": []})  # other templates: not ours here
        return answers.pop(0)

    respx.get(TEMPLATES).mock(side_effect=answer)
    assert main(["templates", "status", "tienda"]) == 0
    assert "nuevo_pedido\tes_MX\tAPPROVED\n" in capsys.readouterr().out
    assert "nuevo_pedido" in asked

    assert main(["templates", "status", "tienda"]) == 0
    assert "nuevo_pedido\tes_MX\tNOT SUBMITTED\trun: chatcentral templates sync tienda\n" in (
        capsys.readouterr().out
    )
    assert main(["templates", "status", "tienda"]) == 1
    assert one_line_error(capsys) == (
        "chatcentral: error: Graph API: HTTP 401, code 190: Expired token"
    )
