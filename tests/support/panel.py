"""Driving the web panel in tests: a signed-in client without WhatsApp in between (the
login link made as `chatcentral panel link` makes it)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine

from chatcentral.panel.access import login_row

ADMIN = "+525587654321"  # the admin of both test shops (tests/support/factories.py)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def make_link_token(engine: Engine, tenant_id: int, phone: str = ADMIN) -> str:
    token, statement = login_row(tenant_id, phone)
    with engine.begin() as conn:
        conn.execute(statement)
    return token


async def use_link(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Open the link and tap its button, as the owner does."""
    opened = await client.get("/panel/login/link", params={"t": token})
    assert opened.status_code == 200, opened.text
    return await client.post("/panel/login/link", data={"csrf": csrf_of(opened.text), "t": token})


async def sign_in(client: httpx.AsyncClient, engine: Engine, tenant_id: int) -> str:
    """Sign `client` in to the shop; return the session's CSRF token."""
    used = await use_link(client, make_link_token(engine, tenant_id))
    assert used.status_code == 303 and used.headers["location"] == "/panel/", used.text
    board = await client.get("/panel/")
    assert board.status_code == 200, board.text
    return csrf_of(board.text)
