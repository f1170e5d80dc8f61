"""The panel's HTML: Jinja2 templates shipped in the package, autoescaped everywhere
(customers choose their own names and notes), with a few filters for money and times,
and the security headers every page carries."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

# Scripts and styles only from the panel itself: no inline script runs, so even an
# escaping mistake could not execute a customer's text. No page may be framed, and no
# address (a login link holds a token) leaves in a Referer.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def money(value: Decimal | int | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def local_time(moment: datetime, timezone: str, pattern: str = "%H:%M") -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime(pattern)


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("chatcentral.panel", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["quantity"] = quantity
    env.filters["local_time"] = local_time
    return env


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
