"""The shop owner's web panel, mounted at `/panel` by `app.py`: login by a link sent over
WhatsApp, the orders board with its live feed, and one order with its status buttons.

Every request runs in one transaction that first finds the session (cookie → shop) and
then binds the connection to that shop's schema: an order id of another shop is simply
not found (404). Every POST carries a CSRF token: the session's own once signed in, a
double-submit cookie on the login forms before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from chatcentral.config import Settings
from chatcentral.conversation.shop import Shop
from chatcentral.conversation.staff import CANCELLED
from chatcentral.conversation.staff_views import NEXT_STEPS
from chatcentral.db.engine import TenantBinder
from chatcentral.orders.queries import order_detail, receipt_of
from chatcentral.orders.status import StatusRefused, change_status
from chatcentral.panel import (
    access,
    board,
    catalog,
    conversations,
    delivery,
    photos,
    settings,
    stats,
)
from chatcentral.panel.access import Session
from chatcentral.panel.render import HEADERS, page
from chatcentral.panel.requests import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    Form,
    actor,
    engine_of,
    field,
    form_of,
    login_csrf,
    loopback,
    not_found,
    path_id,
    read_form,
    refused,
    secure,
    signed_in,
)
from chatcentral.phones import InvalidPhone, normalize_phone
from chatcentral.tenancy.directory import shop_by_id

log = logging.getLogger(__name__)

NOTE_MAX = 500
# The live feed looks for changes this often, and ends after a while (the browser's
# EventSource reconnects by itself), so a server shutting down never waits long on it.
POLL_S = 2.0
STREAM_S = 55.0
STATUS_LABELS = {
    "confirmado": "Confirmar",
    "en_preparacion": "En preparación",
    "en_camino": "En camino",
    "entregado": "Entregado",
}


def public_base(settings: Settings, request: Request | None = None) -> str | None:
    """Where login links point: CHATCENTRAL_PUBLIC_URL, or this request's own address
    only when it is the machine itself (never a Host header from outside)."""
    if settings.chatcentral_public_url:
        return settings.chatcentral_public_url
    if request is not None and loopback(request):
        return str(request.base_url).rstrip("/")
    return None


def login_link(base: str, token: str) -> str:
    return f"{base}{PREFIX}/login/link?{urlencode({'t': token})}"


def _with_login_csrf(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=PREFIX,
        secure=secure(request),
        httponly=True,
        samesite="lax",
    )
    return response


def _login_csrf_ok(request: Request, form: Form) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return cookie is not None and access.same_token(form.get("csrf"), cookie)


async def _login_fields(request: Request) -> Form:
    form, _ = await read_form(request)
    return form


# --- login ------------------------------------------------------------------------------


async def login_form(request: Request) -> Response:
    csrf = login_csrf(request)
    return _with_login_csrf(request, page("login.html", csrf=csrf), csrf)


async def request_link(request: Request) -> Response:
    """Send a link to every active shop that has this phone as an admin. The answer is
    the same whether it has any: the page says nothing about who is an admin."""
    form = await _login_fields(request)
    if not _login_csrf_ok(request, form):
        return refused()
    csrf = login_csrf(request)
    typed = (field(form, "phone") or "").strip()[:40]
    try:
        phone = normalize_phone(typed)
    except InvalidPhone:
        response = page("login.html", 422, csrf=csrf, phone=typed, error="invalid")
        return _with_login_csrf(request, response, csrf)
    settings: Settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    async with engine_of(request).begin() as conn:
        if not await access.allow_attempt(conn, phone, address):
            response = page("login.html", 429, csrf=csrf, phone=typed, error="too_many")
            return _with_login_csrf(request, response, csrf)
        base = public_base(settings, request)
        for tenant_id in await access.admin_shops(conn, phone):
            shop = await shop_by_id(conn, tenant_id)
            if shop is None:
                continue
            if base is None:
                log.error("panel: CHATCENTRAL_PUBLIC_URL is not set; no login link sent")
                break
            token = await access.issue_link(conn, shop.id, phone)
            await delivery.send_link(
                await TenantBinder.bind(conn, shop.schema), shop, phone, login_link(base, token)
            )
            log.info("panel: login link queued for an admin of shop %s", shop.slug)
    return _with_login_csrf(request, page("link_sent.html", csrf=csrf), csrf)


async def link_page(request: Request) -> Response:
    """The page a login link opens: a button that uses it. Opening the link does not use
    it, so a link preview or a scanner fetching the address does not burn it."""
    token = request.query_params.get("t", "")[: access.TOKEN_MAX]
    csrf = login_csrf(request)
    return _with_login_csrf(request, page("link.html", csrf=csrf, token=token), csrf)


async def use_link(request: Request) -> Response:
    form = await _login_fields(request)
    if not _login_csrf_ok(request, form):
        return refused()
    async with engine_of(request).begin() as conn:
        made = await access.redeem_link(conn, field(form, "t") or "")
    if made is None:
        csrf = login_csrf(request)
        refusal = page("login.html", 400, csrf=csrf, error="bad_link")
        return _with_login_csrf(request, refusal, csrf)
    cookie, _ = made
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(access.SESSION_VALID.total_seconds()),
        path=PREFIX,
        secure=secure(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


async def _logout(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    await access.end_session(conn, session.id)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, secure=secure(request), httponly=True)
    return response


# --- orders -----------------------------------------------------------------------------


async def _board_context(conn: AsyncConnection, shop: Shop) -> dict[str, Any]:
    since = board.start_of_today(shop.timezone, datetime.now(UTC))
    return {"columns": await board.board(conn, since), "shop": shop}


async def _board_page(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    context = await _board_context(conn, shop)
    return page("board.html", csrf=session.csrf_token, **context)


async def _board_fragment(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    return page("_board.html", **await _board_context(conn, shop))


async def _order_page(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    order_id = path_id(request, "order_id")
    if order_id is None:
        return not_found()
    notice = (
        "Listo: el cliente fue avisado por WhatsApp." if request.query_params.get("ok") else None
    )
    return await _show_order(conn, session, shop, order_id, notice=notice)


async def _show_order(
    conn: AsyncConnection,
    session: Session,
    shop: Shop,
    order_id: int,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    order = await order_detail(conn, order_id)
    if order is None:
        return not_found()
    steps = NEXT_STEPS.get(order.status_code, ())
    return page(
        "order.html",
        status,
        order=order,
        shop=shop,
        csrf=session.csrf_token,
        steps=[(code, STATUS_LABELS[code]) for code in steps if code != CANCELLED],
        cancellable=CANCELLED in steps,
        receipt=await receipt_of(conn, order_id),
        notice=notice,
        error=error,
    )


_REFUSALS = {
    "same": "El pedido ya está en ese estado.",
    "backwards": "Un pedido no puede volver a un estado anterior.",
    "finished": "El pedido ya terminó.",
    "too_late_to_cancel": "El pedido ya salió: no se puede cancelar.",
    "unknown_status": "Ese estado no existe.",
}


async def _change(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    """A status button: through `orders.status.change_status`, as the WhatsApp commands
    and the API do (same transitions, same history, the customer told the same way)."""
    order_id = path_id(request, "order_id")
    if order_id is None:
        return not_found()
    form = form_of(request)
    wanted = field(form, "status") or ""
    note = (field(form, "note") or "").strip()[:NOTE_MAX] or None
    outcome = await change_status(conn, shop, order_id, wanted, actor=actor(session), note=note)
    if isinstance(outcome, StatusRefused):
        if outcome.reason == "not_found":
            return not_found()
        message = _REFUSALS.get(outcome.reason, "No se pudo cambiar el estado.")
        if outcome.current:
            message += f" Estado actual: {outcome.current}."
        return await _show_order(conn, session, shop, order_id, status=409, error=message)
    return RedirectResponse(f"{PREFIX}/orders/{order_id}?ok=1", status_code=303)


async def _events(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    """Server-sent events: `orders` with the newest order id and the latest status change,
    sent at once and whenever either moves (the page rings for a new id and reloads the
    board). Each poll takes a connection briefly; none is held between polls."""
    engine = engine_of(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")

    async def stream() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        last: tuple[int, str] | None = None
        ends = time.monotonic() + STREAM_S
        while time.monotonic() < ends:
            async with engine.connect() as poll:
                if await access.session_of(poll, cookie) is None:
                    yield "event: signed_out\ndata: {}\n\n"
                    return
                now = await board.marker(await TenantBinder.bind(poll, shop.schema))
            if now != last:
                last = now
                data = json.dumps({"latest": now[0], "changed": now[1]})
                yield f"event: orders\ndata: {data}\n\n"
            else:
                yield ": still here\n\n"
            await asyncio.sleep(POLL_S)

    headers = {**HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def router() -> Router:
    static = Path(__file__).parent / "static"
    routes = [
        Route("/", signed_in(_board_page), methods=["GET"]),
        Route("/board", signed_in(_board_fragment), methods=["GET"]),
        Route("/events", signed_in(_events), methods=["GET"]),
        Route("/orders/{order_id:int}", signed_in(_order_page), methods=["GET"]),
        Route("/orders/{order_id:int}/status", signed_in(_change), methods=["POST"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", request_link, methods=["POST"]),
        Route("/login/link", link_page, methods=["GET"]),
        Route("/login/link", use_link, methods=["POST"]),
        Route("/logout", signed_in(_logout), methods=["POST"]),
        *conversations.routes(),
        *stats.routes(),
        *catalog.routes(),
        *settings.routes(),
        *photos.routes(),
        Mount("/static", app=StaticFiles(directory=static), name="static"),
    ]
    return Router(routes=routes)
