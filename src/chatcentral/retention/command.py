"""`chatcentral purge --older-than 180d [--dry-run] [--shop SLUG]`.

`cli.py` hands in its error type, so this module needs nothing from the entry point
above it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from chatcentral.retention.period import BadPeriod, parse_period


def add_purge_command(commands: argparse._SubParsersAction[Any], error: type[Exception]) -> None:
    purge_parser = commands.add_parser(
        "purge",
        help="erase message bodies older than a period, per shop (orders stay)",
        description=(
            "Erases the bodies of messages (what customers wrote, locations, captions, media "
            "references) and unhandled webhook payloads older than the period, shop by shop. "
            "Orders, their items and totals are kept. --dry-run only counts."
        ),
    )
    purge_parser.add_argument(
        "--older-than", required=True, type=_period, metavar="DAYSd", help="e.g. 180d"
    )
    purge_parser.add_argument("--dry-run", action="store_true", help="count, erase nothing")
    purge_parser.add_argument("--shop", metavar="SLUG", help="only this shop")
    purge_parser.set_defaults(handler=lambda args: _cmd_purge(args, error))


def _period(raw: str) -> Any:
    try:
        return parse_period(raw)
    except BadPeriod as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_purge(args: argparse.Namespace, error: type[Exception]) -> int:
    # Imported here: every other command builds this parser too and need not pay for them.
    from sqlalchemy import text

    from chatcentral.config import get_settings
    from chatcentral.db.engine import make_engine
    from chatcentral.db.server import resolve_database
    from chatcentral.media.store import make_store
    from chatcentral.retention.purge import PurgeReport, purge, targets

    settings = get_settings()
    url = resolve_database(settings).url
    cutoff = datetime.now(UTC) - args.older_than

    async def run() -> PurgeReport:
        engine = make_engine(url, settings)
        try:
            async with engine.connect() as conn:
                ready = (await conn.execute(text("SELECT to_regclass('central.tenants')"))).scalar()
            if ready is None:
                raise error("the central schema is missing: run `chatcentral migrate` first")
            shops = await targets(engine, args.shop)
            if args.shop and not shops:
                raise error(f"no tenant with slug {args.shop!r}")
            store = make_store(settings)
            return await purge(engine, cutoff, dry_run=args.dry_run, shops=shops, store=store)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    for shop in report.shops:
        print(shop.line(dry_run=report.dry_run), file=sys.stderr if shop.error else sys.stdout)
    total = sum(shop.messages for shop in report.shops)
    verb = "would be erased" if report.dry_run else "erased"
    print(
        f"{total} message bodies older than {report.cutoff:%Y-%m-%d %H:%M} UTC {verb} "
        f"in {len(report.shops)} shop(s)"
    )
    return 1 if report.failed else 0
