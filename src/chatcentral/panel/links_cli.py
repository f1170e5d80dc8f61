"""`chatcentral panel link SLUG PHONE`: a login link printed for the operator to hand to a
shop owner (when the owner's WhatsApp window is closed and the template is not approved
yet, say). The same one-time link the login page sends: ten minutes, used once.

`cli.py` hands in its error type, its engine factory and the settings, so this module
needs nothing from the entry point above it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from chatcentral.config import Settings
from chatcentral.db.engine import EngineFactory
from chatcentral.models.central import Tenant
from chatcentral.panel.access import LINK_VALID, login_row
from chatcentral.panel.routes import login_link
from chatcentral.phones import InvalidPhone, normalize_phone


def add_panel_commands(
    commands: argparse._SubParsersAction[Any],
    error: type[Exception],
    admin_engine: EngineFactory,
    settings: Callable[[], Settings],
) -> None:
    panel = commands.add_parser("panel", help="the shop owner's web panel (/panel/)")
    sub = panel.add_subparsers(title="panel commands", parser_class=type(panel))
    link = sub.add_parser("link", help="print a one-time login link for a shop's admin")
    link.add_argument("slug")
    link.add_argument("phone", help="one of the shop's admin phones")
    link.set_defaults(handler=lambda args: _link(args, error, admin_engine, settings()))


def _link(
    args: argparse.Namespace,
    error: type[Exception],
    admin_engine: EngineFactory,
    settings: Settings,
) -> int:
    base = settings.chatcentral_public_url
    if base is None:
        raise error("set CHATCENTRAL_PUBLIC_URL (where the panel is reached, https://…)")
    try:
        phone = normalize_phone(args.phone)
    except InvalidPhone as exc:
        raise error(str(exc)) from None
    with admin_engine() as engine, engine.begin() as conn:
        row = conn.execute(
            select(Tenant.id, Tenant.admin_phones, Tenant.active).where(Tenant.slug == args.slug)
        ).first()
        if row is None:
            raise error(f"no tenant with slug {args.slug!r}")
        if phone not in row.admin_phones:
            raise error(f"{phone} is not an admin of {args.slug} (tenant admin add first)")
        if not row.active:
            raise error(f"{args.slug} is not active")
        token, statement = login_row(row.id, phone)
        conn.execute(statement)
    minutes = int(LINK_VALID.total_seconds() // 60)
    print(f"Login link for {phone} at {args.slug} (valid {minutes} minutes, once):")
    print(login_link(base, token))
    return 0
