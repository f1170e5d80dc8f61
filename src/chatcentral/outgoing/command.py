"""`chatcentral tenant webhook add|list|remove`: a shop's outgoing webhook endpoints."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.config import get_settings
from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import EngineFactory, TenantBinder
from chatcentral.models.central import Tenant
from chatcentral.outgoing import endpoints
from chatcentral.outgoing.events import FEATURE
from chatcentral.tenancy.directory import run_for_shop
from chatcentral.tenancy.registry import record_change

T = TypeVar("T")


def add_webhook_commands(
    tenant_commands: argparse._SubParsersAction[Any],
    error: type[Exception],
    admin_engine: EngineFactory,
) -> None:
    webhook = tenant_commands.add_parser(
        "webhook", help="URLs a shop's own systems hear of its orders at (Premium)"
    )
    commands = webhook.add_subparsers(title="webhook commands", parser_class=type(webhook))
    add = commands.add_parser("add", help="add an endpoint; its signing secret is printed once")
    add.add_argument("slug")
    add.add_argument("url")
    add.set_defaults(handler=lambda args: _add(args, error, admin_engine))
    listing = commands.add_parser("list", help="a shop's endpoints and their last delivery")
    listing.add_argument("slug")
    listing.set_defaults(handler=lambda args: _list(args, error, admin_engine))
    remove = commands.add_parser("remove", help="remove an endpoint by its id")
    remove.add_argument("slug")
    remove.add_argument("id", type=int)
    remove.set_defaults(handler=lambda args: _remove(args, error, admin_engine))


def _in_shop(
    args: argparse.Namespace,
    error: type[Exception],
    admin_engine: EngineFactory,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    premium: bool = False,
) -> T:
    """Run `work` on a connection bound to the shop `args.slug` (migrated central schema
    first); with `premium`, refused for a shop whose plan lacks outgoing webhooks."""
    settings = get_settings()
    with admin_engine() as engine:
        url = engine.url.render_as_string(hide_password=False)

    async def in_shop(async_engine: AsyncEngine, shop: Shop) -> T:
        if premium and not shop.includes(FEATURE):
            raise error(
                f"{shop.slug}: outgoing webhooks are part of the Premium plan "
                f"(chatcentral tenant plan {shop.slug} premium)"
            )
        async with async_engine.begin() as conn:
            return await work(await TenantBinder.bind(conn, shop.schema))

    return run_for_shop(url, settings, args.slug, in_shop, error)


def _audit(admin_engine: EngineFactory, slug: str, action: str, details: dict[str, Any]) -> None:
    with admin_engine() as engine, engine.begin() as conn:
        tenant_id = conn.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar_one()
        record_change(conn, slug, tenant_id, action, actor="cli", details=details)


def _add(args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory) -> int:
    settings = get_settings()
    try:
        endpoints.checked_url(args.url)
    except endpoints.EndpointRefused as exc:
        raise error(str(exc)) from None

    async def work(conn: AsyncConnection) -> endpoints.Created:
        try:
            return await endpoints.create(conn, settings, args.url)
        except endpoints.EndpointRefused as exc:
            raise error(str(exc)) from None

    made = _in_shop(args, error, admin_engine, work, premium=True)
    _audit(
        admin_engine, args.slug, "webhook.add", {"id": made.endpoint.id, "url": made.endpoint.url}
    )
    print(f"endpoint {made.endpoint.id}: {made.endpoint.url}")
    print(f"signing secret (shown once): {made.secret}")
    return 0


def _list(args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory) -> int:
    found = _in_shop(args, error, admin_engine, endpoints.listing)
    for endpoint in found:
        last = endpoint.last_status or "never delivered"
        print(f"{endpoint.id}\t{endpoint.url}\t{last}\t{endpoint.last_attempt_at or ''}")
    if not found:
        print(f"{args.slug} has no webhook endpoints")
    return 0


def _remove(args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory) -> int:
    async def work(conn: AsyncConnection) -> bool:
        return await endpoints.remove(conn, args.id)

    if not _in_shop(args, error, admin_engine, work):
        raise error(f"{args.slug} has no webhook endpoint {args.id}")
    _audit(admin_engine, args.slug, "webhook.remove", {"id": args.id})
    print(f"endpoint {args.id} removed")
    return 0
