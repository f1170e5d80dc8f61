"""`chatcentral tenant apikey create|list|revoke`: the operator's side of API keys.

`cli.py` hands in its error type and its engine factory, so this module needs nothing
from the entry point above it.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from chatcentral.api.keys import KeyNotFound, KeyRow, create_key, list_keys, revoke_key
from chatcentral.db.engine import EngineFactory
from chatcentral.tenancy.registry import UnknownTenant


def add_apikey_commands(
    tenant_commands: argparse._SubParsersAction[Any],
    error: type[Exception],
    admin_engine: EngineFactory,
) -> None:
    apikey = tenant_commands.add_parser("apikey", help="keys to a shop's admin API (/api/v1)")
    # The same parser class as the tenant commands (its usage errors exit the same way).
    commands = apikey.add_subparsers(title="apikey commands", parser_class=type(apikey))

    create = commands.add_parser("create", help="make a key; it is printed once, never again")
    create.add_argument("slug")
    create.add_argument("--name", default="api", help="what the key is for (default: api)")
    create.set_defaults(handler=lambda args: _create(args, error, admin_engine))

    listing = commands.add_parser("list", help="a shop's keys (prefix, name, last use)")
    listing.add_argument("slug")
    listing.set_defaults(handler=lambda args: _list(args, error, admin_engine))

    revoke = commands.add_parser("revoke", help="revoke a key by its prefix or id")
    revoke.add_argument("slug")
    revoke.add_argument("key", metavar="PREFIX_OR_ID")
    revoke.set_defaults(handler=lambda args: _revoke(args, error, admin_engine))


def _create(args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory) -> int:
    name = args.name.strip()
    if not name or len(name) > 100:
        raise error("--name must be 1 to 100 characters")
    with admin_engine() as engine:
        try:
            made = create_key(engine, args.slug, name)
        except UnknownTenant as exc:
            raise error(str(exc)) from None
    print(f"API key {made.row.prefix}… ({made.row.name}) for {args.slug}; shown only now:")
    print(made.secret)
    return 0


def _list(args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory) -> int:
    with admin_engine() as engine:
        try:
            rows = list_keys(engine, args.slug)
        except UnknownTenant as exc:
            raise error(str(exc)) from None
    print("\t".join(("id", "prefix", "name", "created", "last_used", "status")))
    for row in rows:
        print("\t".join(_cells(row)))
    return 0


def _revoke(args: argparse.Namespace, error: type[Exception], admin_engine: EngineFactory) -> int:
    with admin_engine() as engine:
        try:
            row = revoke_key(engine, args.slug, args.key)
        except (UnknownTenant, KeyNotFound) as exc:
            raise error(str(exc)) from None
    assert row.revoked_at is not None
    print(f"API key {row.prefix} ({row.name}) of {args.slug} revoked {_when(row.revoked_at)}")
    return 0


def _cells(row: KeyRow) -> tuple[str, ...]:
    status = "active" if row.revoked_at is None else f"revoked {_when(row.revoked_at)}"
    last = _when(row.last_used_at) if row.last_used_at else "never"
    return (str(row.id), row.prefix, row.name, _when(row.created_at), last, status)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}".strip()
