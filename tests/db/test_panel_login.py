"""The panel's passwordless login: a one-time link sent to the admin's WhatsApp by the
shop's own number, used once within ten minutes; the same answer for any phone; attempts
limited per phone and per address in PostgreSQL; CSRF on every form; logout."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from chatcentral import cli
from chatcentral.config import get_settings
from chatcentral.panel import access
from tests.conftest import ProvisionedShop
from tests.db.conftest import PUBLIC_URL
from tests.support.panel import ADMIN, csrf_of, make_link_token, sign_in, use_link


def queued(engine: Engine, kind: str = "panel_login") -> list[tuple[int, str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tenant_id, recipient, payload FROM central.outbox "
                "WHERE kind = :kind ORDER BY id"
            ),
            {"kind": kind},
        ).all()
    return [(int(r[0]), str(r[1]), dict(r[2])) for r in rows]


async def ask_for_link(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    form = await client.get("/panel/login")
    assert form.status_code == 200
    return await client.post("/panel/login", data={"csrf": csrf_of(form.text), "phone": phone})


def link_in(payload: dict[str, Any]) -> str:
    if payload["type"] == "template":
        [body] = payload["template"]["components"]
        link = body["parameters"][1]["text"]
    else:
        link = re.search(r"https://\S+", payload["text"]["body"]).group(0)  # type: ignore[union-attr]
    assert isinstance(link, str)
    return link


def token_of(link: str) -> str:
    assert link.startswith(f"{PUBLIC_URL}/panel/login/link?t=")
    return parse_qs(urlsplit(link).query)["t"][0]


async def test_the_link_reaches_each_admins_whatsapp_and_signs_in_once(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    answer = await ask_for_link(browser, "55 8765 4321")
    assert answer.status_code == 200
    assert "Revisa tu WhatsApp" in answer.text
    # Both test shops list this phone: each sends its own link from its own number, as
    # the `acceso_panel` template (the admin never wrote: the 24-hour window is closed).
    sent = queued(sync_engine)
    assert [(tenant, to) for tenant, to, _ in sent] == [
        (shops["grocery"].id, "525587654321"),
        (shops["water"].id, "525587654321"),
    ]
    _, _, payload = sent[0]
    assert payload["to"] == ADMIN and payload["type"] == "template"
    assert payload["template"]["name"] == "acceso_panel"
    assert payload["template"]["components"][0]["parameters"][0]["text"] == "Abarrotes Doña Mary"
    token = token_of(link_in(payload))
    with sync_engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM central.panel_logins")).scalars().all()
    assert access.digest(token) in stored and token.encode() not in stored

    used = await use_link(browser, token)
    assert used.status_code == 303 and used.headers["location"] == "/panel/"
    cookie = used.headers["set-cookie"]
    assert cookie.startswith("cc_panel=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/panel" in cookie
    board = await browser.get("/panel/")
    assert board.status_code == 200 and "Abarrotes Doña Mary" in board.text

    again = await use_link(browser, token)
    assert again.status_code == 400 and "ya se usó o caducó" in again.text


async def test_inside_the_admins_window_the_link_goes_as_text_with_the_template_behind(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {shops['grocery'].schema}.staff (wa_id, last_inbound_at) "
                "VALUES ('525587654321', now())"
            )
        )
    await ask_for_link(browser, "+52 1 55 8765 4321")
    with sync_engine.connect() as conn:
        payload, fallback = conn.execute(
            text("SELECT payload, fallback FROM central.outbox WHERE tenant_id = :t"),
            {"t": shops["grocery"].id},
        ).one()
    assert payload["type"] == "text" and "Vale 10 minutos" in payload["text"]["body"]
    assert fallback["template"]["name"] == "acceso_panel"
    assert link_in(payload) == link_in(fallback)


async def test_an_unknown_phone_gets_exactly_the_same_answer(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    known = await ask_for_link(browser, "55 8765 4321")
    unknown = await ask_for_link(browser, "55 1111 2222")
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf" value="[^"]+"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    assert {tenant for tenant, _, _ in queued(sync_engine)} == {
        shops["grocery"].id,
        shops["water"].id,
    }
    assert all(to == "525587654321" for _, to, _ in queued(sync_engine))


async def test_an_expired_link_is_refused(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    token = make_link_token(sync_engine, shops["grocery"].id)
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.panel_logins SET expires_at = now() - interval '1 second'")
        )
    refused = await use_link(browser, token)
    assert refused.status_code == 400 and "caducó" in refused.text
    assert "cc_panel=" not in refused.headers.get("set-cookie", "")
    assert (await browser.get("/panel/")).status_code == 303


async def test_a_made_up_token_is_refused(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop]
) -> None:
    assert (await use_link(browser, "not-a-token")).status_code == 400
    assert (await use_link(browser, "x" * 5000)).status_code == 400


async def test_requests_are_limited_per_phone_and_per_address(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    for _ in range(access.PHONE_ATTEMPTS):
        assert (await ask_for_link(browser, "55 1111 2222")).status_code == 200
    limited = await ask_for_link(browser, "55 1111 2222")
    assert limited.status_code == 429 and "Demasiados intentos" in limited.text
    # The known admin's phone is its own bucket, still open...
    assert (await ask_for_link(browser, "55 8765 4321")).status_code == 200
    # ...until this address has asked too often, for any phone.
    for n in range(access.ADDRESS_ATTEMPTS - access.PHONE_ATTEMPTS - 2):
        assert (await ask_for_link(browser, f"55 3333 {n:04d}")).status_code == 200
    assert (await ask_for_link(browser, "55 4444 0000")).status_code == 429
    sent_before = len(queued(sync_engine))
    assert (await ask_for_link(browser, "55 8765 4321")).status_code == 429
    assert len(queued(sync_engine)) == sent_before  # nothing sent while limited
    # The window passes: allowed again.
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.panel_attempts SET created_at = now() - interval '16 minutes'")
        )
    assert (await ask_for_link(browser, "55 8765 4321")).status_code == 200


async def test_forms_without_their_csrf_token_are_refused(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await browser.get("/panel/login")
    no_token = await browser.post("/panel/login", data={"phone": "55 8765 4321"})
    assert no_token.status_code == 403
    wrong = await browser.post("/panel/login", data={"phone": "55 8765 4321", "csrf": "x"})
    assert wrong.status_code == 403
    assert queued(sync_engine) == []
    token = make_link_token(sync_engine, shops["grocery"].id)
    assert (await browser.post("/panel/login/link", data={"t": token})).status_code == 403

    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    assert (await browser.post("/panel/logout", data={"csrf": "wrong"})).status_code == 403
    assert (await browser.get("/panel/")).status_code == 200  # still signed in
    out = await browser.post("/panel/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/panel/login"


async def test_logout_ends_the_session_even_for_a_copied_cookie(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    csrf = await sign_in(browser, sync_engine, shops["grocery"].id)
    cookie = browser.cookies["cc_panel"]
    await browser.post("/panel/logout", data={"csrf": csrf})
    browser.cookies.set("cc_panel", cookie)  # the cookie kept, say, by a copied profile
    gone = await browser.get("/panel/")
    assert gone.status_code == 303 and gone.headers["location"] == "/panel/login"


async def test_an_admin_removed_from_the_shop_is_signed_out(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    with sync_engine.begin() as conn:
        conn.execute(
            text("UPDATE central.tenants SET admin_phones = '{+525500000000}' WHERE id = :t"),
            {"t": shops["grocery"].id},
        )
    assert (await browser.get("/panel/")).status_code == 303


async def test_cookies_are_secure_unless_the_panel_is_reached_on_this_machine(
    panel_app: Starlette, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    transport = httpx.ASGITransport(app=panel_app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        used = await use_link(client, make_link_token(sync_engine, shops["grocery"].id))
        assert used.status_code == 303
        assert "Secure" in used.headers["set-cookie"]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        used = await use_link(client, make_link_token(sync_engine, shops["grocery"].id))
        assert "Secure" not in used.headers["set-cookie"]


async def test_pages_carry_a_strict_content_security_policy(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop]
) -> None:
    page = await browser.get("/panel/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_panel_link_prints_a_working_link(
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHATCENTRAL_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    assert cli.main(["panel", "link", "tienda", "55 8765 4321"]) == 0
    out = capsys.readouterr().out
    assert "valid 10 minutes" in out
    link = out.strip().splitlines()[-1]
    assert token_of(link)
    assert cli.main(["panel", "link", "tienda", "55 1111 2222"]) == 1
    assert "is not an admin of tienda" in capsys.readouterr().err
    assert cli.main(["panel", "link", "nadie", "55 8765 4321"]) == 1


async def test_a_link_from_panel_link_signs_in(
    browser: httpx.AsyncClient,
    shops: dict[str, ProvisionedShop],
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHATCENTRAL_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    assert cli.main(["panel", "link", "agua", "5587654321"]) == 0
    token = token_of(capsys.readouterr().out.strip().splitlines()[-1])
    assert (await use_link(browser, token)).status_code == 303
    board = await browser.get("/panel/")
    assert "Agua La Fuente" in board.text


async def test_old_links_and_sessions_are_cleared_as_new_ones_are_made(
    browser: httpx.AsyncClient, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    await sign_in(browser, sync_engine, shops["grocery"].id)
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE central.panel_logins SET expires_at = now() - interval '2 days'"))
        conn.execute(
            text("UPDATE central.panel_sessions SET expires_at = now() - interval '2 days'")
        )
    await ask_for_link(browser, "55 8765 4321")  # two new links, one per shop
    with sync_engine.connect() as conn:
        logins = conn.execute(text("SELECT count(*) FROM central.panel_logins")).scalar_one()
    assert logins == 2
    await sign_in(browser, sync_engine, shops["grocery"].id)
    with sync_engine.connect() as conn:
        sessions = conn.execute(
            text("SELECT count(*) FROM central.panel_sessions WHERE expires_at > now()")
        ).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM central.panel_sessions")).scalar_one()
    assert sessions == total == 1
