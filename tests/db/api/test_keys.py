"""API keys: made, listed and revoked by the CLI (audited, stored hashed), and every
way of presenting a wrong one answered 401 as a problem."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine

from chatcentral.cli import main
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, assert_problem, rows
from tests.support.plans import on_plan


def test_the_cli_makes_lists_and_revokes_keys_and_audits_it(
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tenant", "apikey", "create", "tienda", "--name", "caja"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("cck_") and len(key) > 40
    [(prefix, name, stored)] = rows(
        sync_engine, "SELECT prefix, name, secret_hash FROM central.api_keys"
    )
    assert key.startswith(prefix) and name == "caja"
    assert bytes(stored) == hashlib.sha256(key.encode()).digest()  # the key itself is not kept
    assert main(["tenant", "apikey", "list", "tienda"]) == 0
    listing = capsys.readouterr().out
    assert prefix in listing and "caja" in listing and "active" in listing
    assert key not in listing

    assert main(["tenant", "apikey", "revoke", "tienda", prefix]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["tenant", "apikey", "list", "tienda"]) == 0
    assert "revoked" in capsys.readouterr().out
    audit = rows(
        sync_engine, "SELECT action, details->>'prefix' FROM central.audit_log ORDER BY id"
    )
    assert ("tenant.apikey.create", prefix) in audit
    assert ("tenant.apikey.revoke", prefix) in audit
    assert not any(key in str(row) for row in rows(sync_engine, "SELECT * FROM central.audit_log"))


def test_the_cli_refuses_unknown_shops_and_keys(
    cli_env: str, shops: dict[str, ProvisionedShop], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "apikey", "create", "nadie"]) == 1
    assert "no tenant with slug 'nadie'" in capsys.readouterr().err
    assert main(["tenant", "apikey", "create", "agua"]) == 0
    capsys.readouterr()
    # The water company's key is not the grocery store's to revoke.
    assert main(["tenant", "apikey", "revoke", "tienda", "1"]) == 1
    assert "tienda has no API key '1'" in capsys.readouterr().err
    assert main(["tenant", "apikey", "revoke", "agua", "1"]) == 0


async def test_missing_malformed_wrong_and_revoked_keys_are_401(api: Api) -> None:
    assert (await api.get("/orders")).status_code == 200
    for key, headers in (
        (None, None),  # no header
        (None, {"Authorization": "Basic dXNlcjpwYXNz"}),
        (None, {"Authorization": "Bearer "}),
        ("cck_not-a-key", None),
        ("not-even-ours", None),
        (api.key + "x", None),
        ("cck_" + "a" * 500, None),
    ):
        response = await api.get("/orders", key=key, headers=headers)
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "items" not in body

    from chatcentral.api.keys import revoke_key

    revoke_key(api.engine, "tienda", api.key[:12])
    assert_problem(await api.get("/orders"), 401)
    # The other shop's key still works.
    assert (await api.get("/orders", key=api.other_key)).status_code == 200


async def test_a_key_records_when_it_was_last_used(api: Api) -> None:
    assert rows(api.engine, "SELECT last_used_at FROM central.api_keys ORDER BY id") == [
        (None,),
        (None,),
    ]
    assert (await api.get("/orders")).status_code == 200
    [(used,), (unused,)] = rows(api.engine, "SELECT last_used_at FROM central.api_keys ORDER BY id")
    assert used is not None and unused is None


async def test_401_comes_before_judging_the_request(api: Api) -> None:
    # A bad body or unknown id without a valid key says nothing but 401.
    assert_problem(await api.post("/orders/999/status", key=None, content=b"{nope"), 401)
    assert_problem(await api.get("/orders/999", key="cck_wrong"), 401)


async def test_a_shop_whose_plan_lacks_the_api_gets_403_naming_the_plan(
    api: Api, sync_engine: Engine
) -> None:
    on_plan(sync_engine, "complete", "tienda")
    problem = assert_problem(await api.get("/orders"), 403)
    assert problem["plan"] == "Premium" and problem["feature"] == "admin_api"
    assert "Premium" in problem["detail"]
    assert (await api.get("/orders", key=api.other_key)).status_code == 200  # still Premium
    assert_problem(await api.get("/orders", key="cck_nonsense"), 401)  # 401 comes first
