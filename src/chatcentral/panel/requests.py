"""What every panel page shares: the signed-in wrapper (cookie → session → shop, one
transaction bound to the shop's schema, CSRF checked on every POST), the forms it reads
(urlencoded, or multipart for a file), cookies and the common refusals.

Each page lives in its own module (`board`, `conversations`, `catalog`, …) and hands its
routes to `routes.router()`; none re-implements sign-in or CSRF.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import TenantBinder
from chatcentral.panel import access
from chatcentral.panel.access import Session
from chatcentral.panel.render import page
from chatcentral.tenancy.directory import shop_by_id

log = logging.getLogger(__name__)

PREFIX = "/panel"
SESSION_COOKIE = "cc_panel"
LOGIN_CSRF_COOKIE = "cc_panel_login"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

Form = dict[str, str]
FORM_MAX = 16 * 1024  # the panel's urlencoded forms are a few short fields
FORM_FIELDS = 200  # a catalog page saves one row at a time, but a settings form has many
# An uploaded file (a product photo, a catalog CSV): WhatsApp takes images up to 5 MB,
# and a catalog of a few thousand lines is well under that.
UPLOAD_MAX = 5 * 1024 * 1024

ID_MAX = 2**63 - 1  # ids are bigint


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent with a multipart form, read whole (never more than UPLOAD_MAX)."""

    filename: str
    content_type: str
    data: bytes


class UploadTooLarge(Exception):
    pass


def loopback(request: Request) -> bool:
    return request.url.scheme == "http" and (request.url.hostname or "") in _LOOPBACK


def secure(request: Request) -> bool:
    """Cookies are Secure except over plain http to this machine itself (development and
    tests); anything reached by a name is expected behind https."""
    return not loopback(request)


def actor(session: Session) -> str:
    """A panel user as the audit log and an order's history name them."""
    return f"panel:{session.phone}"


def path_id(request: Request, name: str) -> int | None:
    """The address's `{name:int}`; None past bigint, where no row can be (simply not
    found, rather than an error from PostgreSQL)."""
    value: int = request.path_params[name]
    return value if value <= ID_MAX else None


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def to_login() -> Response:
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


def not_found() -> Response:
    return page("not_found.html", 404)


def refused() -> Response:
    return page("refused.html", 403)


def notice_of(request: Request, notices: Mapping[str, str]) -> str | None:
    """The notice a page shows after a change: its handler redirects back with
    `?ok=<key>`, the key of one of the page's `notices`."""
    return notices.get(request.query_params.get("ok", ""))


def field(form: Form, name: str) -> str | None:
    return form.get(name)


def form_of(request: Request) -> Form:
    """The POST's fields, as `signed_in` read them."""
    form: Form = request.state.form
    return form


def uploads_of(request: Request) -> dict[str, Upload]:
    """The POST's files (multipart forms only), as `signed_in` read them."""
    files: dict[str, Upload] = request.state.files
    return files


async def read_form(request: Request) -> tuple[Form, dict[str, Upload]]:
    """The fields of a form, first value of each, and its files. Urlencoded forms are read
    here (small, bounded); multipart ones by Starlette's parser with limits. An oversized
    or malformed body reads as empty, and then fails its CSRF check."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            return await _multipart(request)
        except (MultiPartException, HTTPException, UploadTooLarge, ValueError) as exc:
            log.info("panel: unreadable multipart form (%s)", type(exc).__name__)
            return {}, {}
    if kind != "application/x-www-form-urlencoded":
        return {}, {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX:
            return {}, {}
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}, {}
    form: Form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form, {}


async def _multipart(request: Request) -> tuple[Form, dict[str, Upload]]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > UPLOAD_MAX + FORM_MAX:
        raise UploadTooLarge
    form: Form = {}
    files: dict[str, Upload] = {}
    async with request.form(max_files=1, max_fields=FORM_FIELDS, max_part_size=FORM_MAX) as parsed:
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                if name not in files:
                    files[name] = await _upload(value)
            else:
                form.setdefault(name, value)
    return form, files


async def _upload(value: UploadFile) -> Upload:
    data = await value.read(UPLOAD_MAX + 1)
    if len(data) > UPLOAD_MAX:
        raise UploadTooLarge
    return Upload(value.filename or "", value.content_type or "", data)


Handler = Callable[[Request, AsyncConnection, Session, Shop], Awaitable[Response]]


def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` in one transaction with the caller's session and shop, the connection
    bound to the shop's schema; no session → to the login page. POSTs must carry the
    session's CSRF token (403 otherwise, nothing done); their fields are then in
    `form_of(request)` and their files in `uploads_of(request)`."""

    async def endpoint(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        form, files = await read_form(request) if request.method == "POST" else ({}, {})
        async with engine_of(request).begin() as conn:
            session = await access.session_of(conn, cookie)
            if session is None:
                return to_login()
            if request.method == "POST" and not access.same_token(
                field(form, "csrf"), session.csrf_token
            ):
                return refused()
            shop = await shop_by_id(conn, session.tenant_id)
            if shop is None:
                return to_login()
            request.state.form = form
            request.state.files = files
            bound = await TenantBinder.bind(conn, shop.schema)
            return await handler(request, bound, session, shop)

    return endpoint


def login_csrf(request: Request) -> str:
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
