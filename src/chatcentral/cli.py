"""The `chatcentral` command: serve, migrate and manage shops.

Bad input exits non-zero with one line on stderr naming the problem.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from sqlalchemy import Engine

from chatcentral.api.keys_cli import add_apikey_commands
from chatcentral.config import ConfigError, Settings, get_settings
from chatcentral.conversation.flow import flow_files
from chatcentral.db.server import DatabaseTarget, resolve_database
from chatcentral.logs import logging_config, setup_logging
from chatcentral.outgoing.command import add_webhook_commands
from chatcentral.panel.links_cli import add_panel_commands
from chatcentral.retention.command import add_purge_command
from chatcentral.tenancy.transfer.command import add_transfer_commands

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from chatcentral.conversation.shop import Shop
    from chatcentral.media.report import MediaSummary
    from chatcentral.media.staff_links import MediaLink

log = logging.getLogger("chatcentral")

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    """Refused input or a failed command; its message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except (CliError, ConfigError) as exc:
        print(f"chatcentral: error: {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, CliError) else EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        print(f"chatcentral: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _describe(exc: BaseException) -> str:
    """One line for an unexpected failure (set CHATCENTRAL_LOG_LEVEL=DEBUG for the trace)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0] if lines else 'no details'}"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chatcentral", description="WhatsApp ordering bot for local shops")
    commands = parser.add_subparsers(title="commands", parser_class=_Parser)

    run = commands.add_parser("run", help="serve the webhook (and the outbox dispatcher)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=_port, default=8000, help="0 picks any free port")
    run.add_argument("--workers", type=_positive, default=1)
    run.add_argument("--demo", action="store_true", help="provision the demo shops if absent")
    run.add_argument(
        "--no-dispatcher",
        action="store_true",
        help="web only: `chatcentral worker` sends and runs the periodic jobs",
    )
    run.set_defaults(handler=_cmd_run)

    worker = commands.add_parser("worker", help="run the outbox dispatcher alone (scale-out)")
    worker.set_defaults(handler=_cmd_worker)

    check = commands.add_parser("check", help="is this installation ready to serve?")
    check.add_argument(
        "--offline", action="store_true", help="skip the Graph API and S3 (no network)"
    )
    check.set_defaults(handler=_cmd_check)

    migrate = commands.add_parser("migrate", help="upgrade central and every tenant schema")
    migrate.add_argument("--workers", type=_positive, default=None)
    migrate.set_defaults(handler=_cmd_migrate)

    chat = commands.add_parser("chat", help="chat with a shop's bot in the terminal")
    chat.add_argument("--tenant", default="demo", help="shop slug (default: demo)")
    chat.add_argument("--phone", default="5215512345678", help="the customer's WhatsApp number")
    chat.add_argument("--url", help="post to this running server instead of one in process")
    chat.add_argument(
        "--listen", metavar="HOST:PORT", help="fake Cloud API address with --url (127.0.0.1:8001)"
    )
    chat.add_argument(
        "--admin",
        action="store_true",
        help="write as the shop's admin; «cliente: …» writes as the customer --phone",
    )
    chat.set_defaults(handler=_cmd_chat)

    flows = commands.add_parser("flows", help="conversation flows")
    flows_commands = flows.add_subparsers(title="flows commands", parser_class=_Parser)
    flows_check = flows_commands.add_parser(
        "check", help="prove every flow is reachable, complete and within WhatsApp's limits"
    )
    flows_check.add_argument("--dir", type=Path, default=None, help="flow folder (default: flows/)")
    flows_check.set_defaults(handler=_cmd_flows_check)

    tenant = commands.add_parser("tenant", help="onboard and manage shops")
    tenant_commands = tenant.add_subparsers(title="tenant commands", parser_class=_Parser)

    create = tenant_commands.add_parser("create", help="provision a new shop")
    create.add_argument("--slug", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--phone-number-id", required=True)
    create.add_argument("--display-phone", required=True)
    create.add_argument("--flow", required=True, choices=sorted(flow_files()))
    create.add_argument("--admin-phone", action="append", required=True, dest="admin_phones")
    create.add_argument("--plan", default="basic", choices=["basic", "complete", "premium"])
    create.add_argument("--timezone", default="America/Mexico_City")
    create.add_argument("--catalog", type=Path, help="products CSV to import")
    create.add_argument(
        "--access-token-env",
        metavar="VAR",
        help="read the shop's own Graph API token from this environment variable",
    )
    create.add_argument(
        "--waba-id", help="the shop's WhatsApp Business Account id (for its message templates)"
    )
    create.set_defaults(handler=_cmd_tenant_create)

    listing = tenant_commands.add_parser("list", help="list shops")
    listing.set_defaults(handler=_cmd_tenant_list)

    for name, active in (("deactivate", False), ("activate", True)):
        sub = tenant_commands.add_parser(name, help=f"{name} a shop's bot (data is kept)")
        sub.add_argument("slug")
        sub.set_defaults(handler=_cmd_tenant_set_active, active=active)

    admin = tenant_commands.add_parser("admin", help="the phones that run a shop from WhatsApp")
    admin_commands = admin.add_subparsers(title="admin commands", parser_class=_Parser)
    for name in ("add", "remove"):
        sub = admin_commands.add_parser(name, help=f"{name} an admin phone")
        sub.add_argument("slug")
        sub.add_argument("phone")
        sub.set_defaults(handler=_cmd_tenant_admin_change, add=name == "add")
    admin_list = admin_commands.add_parser("list", help="a shop's admin phones")
    admin_list.add_argument("slug")
    admin_list.set_defaults(handler=_cmd_tenant_admin_list)

    _add_template_commands(commands, tenant_commands)
    add_apikey_commands(tenant_commands, CliError, _admin_engine)
    add_webhook_commands(tenant_commands, CliError, _admin_engine)
    _add_hours_commands(tenant_commands)
    add_transfer_commands(tenant_commands, CliError, _admin_engine)
    plan = tenant_commands.add_parser("plan", help="move a shop to another plan (audited)")
    plan.add_argument("slug")
    plan.add_argument("plan", help="basic, complete or premium")
    plan.set_defaults(handler=_cmd_tenant_plan)
    _add_reminders_command(commands)
    add_purge_command(commands, CliError)
    _add_media_commands(commands)
    add_panel_commands(commands, CliError, _admin_engine, get_settings)
    return parser


# --- refill reminders (`reminders SLUG`) --------------------------------------------------


def _add_reminders_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    reminders = commands.add_parser(
        "reminders",
        help="refill reminders of a shop: who is due and why (--dry-run), or send them now",
        description=(
            "Lists every customer of the shop who has ordered, whether a refill reminder "
            "is due and why. Without --dry-run the due ones are queued now, as the "
            "scheduled job would (only while the shop is open)."
        ),
    )
    reminders.add_argument("slug")
    reminders.add_argument("--dry-run", action="store_true", help="decide, send nothing")
    reminders.set_defaults(handler=_cmd_reminders)


def _cmd_reminders(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from chatcentral.reminders.job import ShopReport, describe, remind_shop

    async def call(engine: AsyncEngine, shop: Shop, settings: Settings) -> ShopReport:
        return await remind_shop(engine, shop, datetime.now(UTC), dry_run=args.dry_run)

    report = _shop_call(args.slug, call)
    for line in describe(report):
        print(line)
    if args.dry_run:
        print(f"{len(report.due) if report.enabled and report.open else 0} would be reminded")
    elif report.busy:
        print("another process is sending this shop's reminders right now; nothing sent")
    else:
        print(f"{len(report.sent)} reminder(s) queued")
    return 0


# --- business hours and holidays (`tenant hours`) -----------------------------------------


def _add_hours_commands(tenant_commands: argparse._SubParsersAction[_Parser]) -> None:
    hours = tenant_commands.add_parser(
        "hours",
        help="show or set a shop's business hours and holidays",
        description=(
            "Without options, show the hours. --set replaces the days it names and keeps "
            "the others: --set 'mon-fri 09:00-18:00' --set 'sat 09:00-14:00' --set 'sun closed'. "
            "Holidays (YYYY-MM-DD) are closed all day."
        ),
    )
    hours.add_argument("slug")
    hours.add_argument(
        "--set", action="append", default=[], dest="days", metavar="'DAYS HH:MM-HH:MM'"
    )
    hours.add_argument("--clear", action="store_true", help="start from no opening days")
    hours.add_argument(
        "--holiday", action="append", default=[], dest="holidays", metavar="YYYY-MM-DD"
    )
    hours.add_argument(
        "--remove-holiday", action="append", default=[], dest="unholidays", metavar="YYYY-MM-DD"
    )
    hours.add_argument("--clear-holidays", action="store_true")
    hours.set_defaults(handler=_cmd_tenant_hours)


def _cmd_tenant_hours(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from chatcentral.conversation import hours
    from chatcentral.tenancy.business_hours import change_hours, read_hours
    from chatcentral.tenancy.registry import UnknownTenant

    changing = bool(
        args.days or args.clear or args.holidays or args.unholidays or args.clear_holidays
    )
    with _admin_engine(get_settings()) as engine:
        try:
            if changing:
                shown = change_hours(
                    engine,
                    args.slug,
                    days=args.days,
                    add_holidays=args.holidays,
                    remove_holidays=args.unholidays,
                    clear_days=args.clear,
                    clear_holidays=args.clear_holidays,
                )
            else:
                shown = read_hours(engine, args.slug)
        except (UnknownTenant, hours.HoursError) as exc:
            raise CliError(str(exc)) from None
    if changing:
        print(f"business hours of {args.slug} updated")
    print(f"{args.slug} ({shown.timezone})")
    for day in hours.WEEKDAYS:
        ranges = shown.hours[day]
        print(f"  {day}  " + (", ".join(f"{a}-{b}" for a, b in ranges) if ranges else "closed"))
    print("  holidays  " + (", ".join(shown.hours[hours.HOLIDAYS]) or "none"))
    now = datetime.now(UTC)
    if hours.is_open(shown.hours, None, shown.timezone, now):
        print("  open now")
    else:
        opening = hours.next_opening(shown.hours, None, shown.timezone, now)
        when = f"{opening:%a %Y-%m-%d %H:%M}" if opening else "never (no opening hours)"
        print(f"  closed now; opens {when}")
    return 0


def _port(raw: str) -> int:
    value = _int(raw)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {raw!r} is not between 0 and 65535")
    return value


def _positive(raw: str) -> int:
    value = _int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be 1 or more")
    return value


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None


def _database(settings: Settings) -> DatabaseTarget:
    try:
        return resolve_database(settings)
    except Exception as exc:
        log.debug("database start-up failed", exc_info=True)
        raise CliError(f"cannot start the embedded PostgreSQL: {exc}") from None


@contextmanager
def _admin_engine(settings: Settings | None = None) -> Iterator[Engine]:
    """A synchronous engine on the chosen server, with the central schema at head
    (without `settings`, the configured ones: the factory sub-command modules get)."""
    from chatcentral.db.engine import make_sync_engine
    from chatcentral.db.migrations import upgrade_central

    settings = settings or get_settings()
    engine = make_sync_engine(_database(settings).url, settings)
    try:
        with engine.begin() as conn:
            upgrade_central(conn)
        yield engine
    finally:
        engine.dispose()


def _shop_call(slug: str, call: Callable[[AsyncEngine, Shop, Settings], Awaitable[T]]) -> T:
    """Run `call(engine, shop, settings)` for the shop `slug` on a fresh async engine."""
    from chatcentral.tenancy.directory import run_for_shop

    settings = get_settings()
    with _admin_engine(settings) as engine:
        url = engine.url.render_as_string(hide_password=False)
    return run_for_shop(
        url, settings, slug, lambda engine, shop: call(engine, shop, settings), CliError
    )


def _cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from chatcentral.tenancy.demo import ensure_demo_tenants

    settings = get_settings()
    if settings.production:
        _refuse_unless_ready(settings)
    settings.require("whatsapp_app_secret", "whatsapp_verify_token")
    setup_logging(settings)
    if settings.whatsapp_access_token is None:
        log.warning("WHATSAPP_ACCESS_TOKEN is not set: shops without their own token cannot send")
    with _admin_engine(settings) as engine:
        if args.demo:
            for line in ensure_demo_tenants(engine):
                log.info("%s", line)
        url = engine.url.render_as_string(hide_password=False)
    # Worker processes read the URL of the server this process started (and whether they
    # send: web-only processes leave it to `chatcentral worker`).
    os.environ["DATABASE_URL"] = url
    if args.no_dispatcher:
        os.environ["CHATCENTRAL_DISPATCHER"] = "false"
    get_settings.cache_clear()
    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"chatcentral listening on http://{host}:{port}", flush=True)
    config = uvicorn.Config(
        "chatcentral.app:server_app",
        factory=True,
        workers=args.workers,
        log_level=settings.chatcentral_log_level.lower(),
        # Ours, applied by uvicorn in each worker process too: one format, redaction, context.
        log_config=logging_config(settings),
        access_log=False,
    )
    server = uvicorn.Server(config)
    if args.workers > 1:
        import tempfile

        from uvicorn.supervisors import Multiprocess

        # Workers count in files here so /metrics sums every process, not the one that answers.
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="chatcentral-metrics-")
        )

        Multiprocess(config, sockets=[sock]).run()
    else:
        # uvicorn drains requests on Ctrl-C/SIGTERM, then re-raises the signal: a clean stop.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    print("chatcentral stopped", flush=True)
    return 0


def _refuse_unless_ready(settings: Settings) -> None:
    """CHATCENTRAL_ENV=production: no serving while an offline check fails."""
    from chatcentral.preflight import startup_failures

    failures = startup_failures(settings, _database(settings).url)
    for result in failures:
        print(result, file=sys.stderr)
    if failures:
        raise CliError(
            f"CHATCENTRAL_ENV=production: not starting while {len(failures)} check(s) fail "
            "(fix the lines above; `chatcentral check` shows them all)"
        )


def _cmd_worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from chatcentral.bootstrap import run_worker

    settings = get_settings()
    setup_logging(settings)
    with _admin_engine(settings) as engine:
        url = engine.url.render_as_string(hide_password=False)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(url, settings, stop)

    # uvloop where it exists (not on Windows): the dispatcher is mostly event-loop work.
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _cmd_check(args: argparse.Namespace) -> int:
    from chatcentral.preflight import check_engine, run_checks

    settings = get_settings()
    engine = check_engine(_database(settings).url, settings)
    try:
        results = run_checks(settings, engine, offline=args.offline)
    finally:
        engine.dispose()
    for result in results:
        print(result, file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(result.ok for result in results) else EXIT_FAILED


def _cmd_migrate(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from chatcentral.tenancy.migrate import migrate_all

    settings = get_settings()
    target = _database(settings)
    with Progress(transient=False) as progress:
        task = progress.add_task("tenants", total=None)
        report = migrate_all(
            target.url,
            workers=args.workers,
            settings=settings,
            on_start=lambda total: progress.update(task, total=total),
            on_tenant=lambda slug, outcome: progress.advance(task),
        )
    print(
        f"central at head; tenants: {len(report.upgraded)} upgraded, "
        f"{len(report.current)} already current, {len(report.failed)} failed"
    )
    for slug, reason in sorted(report.failed.items()):
        print(f"  failed {slug}: {reason}", file=sys.stderr)
    return EXIT_FAILED if report.failed else 0


def _cmd_chat(args: argparse.Namespace) -> int:
    import asyncio

    from chatcentral.simulator.chat import ChatError
    from chatcentral.simulator.terminal import run_chat

    settings = get_settings()
    with _admin_engine(settings) as engine:
        database_url = engine.url.render_as_string(hide_password=False)
    chat = run_chat(
        settings,
        database_url,
        tenant=args.tenant,
        phone=args.phone,
        url=args.url,
        listen=args.listen,
        admin=args.admin,
        stdin=sys.stdin,
    )
    try:
        return asyncio.run(chat)
    except ChatError as exc:
        raise CliError(str(exc)) from None


def _cmd_flows_check(args: argparse.Namespace) -> int:
    from chatcentral.conversation.flow import FlowError, flow_files, load_flow
    from chatcentral.conversation.flow_check import check_flow

    if args.dir is not None and not args.dir.is_dir():
        raise CliError(f"{args.dir} is not a folder")
    files = flow_files(args.dir)
    if not files:
        raise CliError(f"no flow files (*.yaml) in {args.dir}")
    failed = 0
    for name, path in files.items():
        try:
            problems = [str(p) for p in check_flow(load_flow(path))]
        except FlowError as exc:
            problems = [str(exc)]
        failed += bool(problems)
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        if not problems:
            print(
                f"ok   {name}: every state reachable, every state leads back to the menu, "
                "every text present, every message within WhatsApp's limits"
            )
    return EXIT_FAILED if failed else 0


def _cmd_tenant_create(args: argparse.Namespace) -> int:
    from chatcentral.tenancy.catalog import CatalogError, read_catalog
    from chatcentral.tenancy.provisioning import ProvisioningError, TenantSpec, provision_tenant

    settings = get_settings()
    try:
        catalog = read_catalog(args.catalog) if args.catalog else []
    except CatalogError as exc:
        raise CliError(str(exc)) from None
    token = None
    if args.access_token_env:
        token = os.environ.get(args.access_token_env)
        if not token:
            raise CliError(f"environment variable {args.access_token_env} is empty or unset")
    spec = TenantSpec(
        slug=args.slug,
        name=args.name,
        phone_number_id=args.phone_number_id,
        display_phone=args.display_phone,
        flow=args.flow,
        admin_phones=args.admin_phones,
        plan=args.plan,
        timezone=args.timezone,
        access_token=token,
        waba_id=args.waba_id,
    )
    with _admin_engine(settings) as engine:
        try:
            made = provision_tenant(engine, spec, catalog, settings=settings)
        except ProvisioningError as exc:
            raise CliError(str(exc)) from None
    print(
        f"created tenant {made.slug} (id {made.id}) in schema {made.schema} "
        f"with {made.products} products"
    )
    return 0


def _cmd_tenant_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from chatcentral.tenancy.registry import list_tenants

    with _admin_engine(get_settings()) as engine:
        rows = list_tenants(engine)
    columns = ("slug", "name", "phone_number_id", "display_phone", "flow", "plan", "active")
    cells = [
        (
            r.slug,
            r.name,
            r.phone_number_id,
            r.display_phone,
            r.flow,
            r.plan,
            "yes" if r.active else "no",
        )
        for r in rows
    ]
    if not sys.stdout.isatty():
        # Piped into a script: one tab-separated line per shop, never wrapped.
        for line in (columns, *cells):
            print("\t".join(line))
        return 0
    table = Table(*columns)
    for row in cells:
        table.add_row(*row)
    Console().print(table)
    return 0


def _cmd_tenant_set_active(args: argparse.Namespace) -> int:
    from chatcentral.tenancy.registry import UnknownTenant, set_active

    with _admin_engine(get_settings()) as engine:
        try:
            set_active(engine, args.slug, args.active)
        except UnknownTenant as exc:
            raise CliError(str(exc)) from None
    print(f"tenant {args.slug} {'activated' if args.active else 'deactivated'}")
    return 0


def _cmd_tenant_plan(args: argparse.Namespace) -> int:
    from chatcentral.tenancy.plans import PlanRefused, change_plan
    from chatcentral.tenancy.registry import UnknownTenant

    with _admin_engine(get_settings()) as engine:
        try:
            change = change_plan(engine, args.slug, args.plan)
        except (UnknownTenant, PlanRefused) as exc:
            raise CliError(str(exc)) from None
    print(
        f"tenant {change.slug}: plan {change.before} → {change.after} "
        f"({change.active_products} of {change.product_limit} active products)"
    )
    return 0


def _cmd_tenant_admin_change(args: argparse.Namespace) -> int:
    from chatcentral.tenancy.registry import AdminChangeRefused, UnknownTenant, change_admins

    with _admin_engine(get_settings()) as engine:
        try:
            phones = change_admins(engine, args.slug, args.phone, add=args.add)
        except (UnknownTenant, AdminChangeRefused) as exc:
            raise CliError(str(exc)) from None
    print(f"admins of {args.slug}: {', '.join(phones)}")
    return 0


def _cmd_tenant_admin_list(args: argparse.Namespace) -> int:
    from chatcentral.tenancy.registry import UnknownTenant, admin_phones

    with _admin_engine(get_settings()) as engine:
        try:
            phones = admin_phones(engine, args.slug)
        except UnknownTenant as exc:
            raise CliError(str(exc)) from None
    print("\n".join(phones))
    return 0


# --- message templates in the shop's WhatsApp Business Account -----------------------------


def _add_template_commands(
    commands: argparse._SubParsersAction[_Parser],
    tenant_commands: argparse._SubParsersAction[_Parser],
) -> None:
    change = tenant_commands.add_parser("set", help="change a shop's registry fields")
    change.add_argument("slug")
    change.add_argument(
        "--waba-id",
        required=True,
        help="the shop's WhatsApp Business Account id (for its message templates)",
    )
    change.set_defaults(handler=_cmd_tenant_set)

    templates = commands.add_parser(
        "templates", help="message templates in a shop's WhatsApp Business Account"
    )
    template_commands = templates.add_subparsers(title="templates commands", parser_class=_Parser)
    sync = template_commands.add_parser(
        "sync", help="submit every shipped template (flows/templates/) for Meta's review"
    )
    sync.add_argument("slug")
    sync.set_defaults(handler=_cmd_templates_sync)
    status = template_commands.add_parser(
        "status", help="each template's review status (APPROVED, PENDING, REJECTED)"
    )
    status.add_argument("slug")
    status.set_defaults(handler=_cmd_templates_status)


def _cmd_tenant_set(args: argparse.Namespace) -> int:
    from chatcentral.tenancy.registry import UnknownTenant
    from chatcentral.tenancy.waba import InvalidWabaId, set_waba_id

    with _admin_engine(get_settings()) as engine:
        try:
            before = set_waba_id(engine, args.slug, args.waba_id)
        except (UnknownTenant, InvalidWabaId) as exc:
            raise CliError(str(exc)) from None
    was = f" (was {before})" if before and before != args.waba_id.strip() else ""
    print(f"tenant {args.slug}: WABA id {args.waba_id.strip()}{was}")
    return 0


def _cmd_templates_sync(args: argparse.Namespace) -> int:
    from chatcentral.notifications.waba import sync_templates

    results = _templates_call(sync_templates, args.slug)
    for result in results:
        line = f"{result.outcome:<9} {result.name} ({result.language}): {result.detail}"
        print(line, file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(result.ok for result in results) else EXIT_FAILED


def _cmd_templates_status(args: argparse.Namespace) -> int:
    from chatcentral.notifications.waba import template_statuses

    for result in _templates_call(template_statuses, args.slug):
        detail = f"\t{result.detail}" if result.detail else ""
        print(f"{result.name}\t{result.language}\t{result.status}{detail}")
    return 0


def _templates_call(call: Callable[..., list[T]], slug: str) -> list[T]:
    from chatcentral.notifications.waba import NotConfigured
    from chatcentral.tenancy.registry import UnknownTenant
    from chatcentral.whatsapp.templates_api import TemplateApiError

    settings = get_settings()
    with _admin_engine(settings) as engine:
        try:
            return call(engine, settings, slug)
        except (UnknownTenant, NotConfigured) as exc:
            raise CliError(str(exc)) from None
        except TemplateApiError as exc:
            raise CliError(f"Graph API: {exc}") from None


# --- inbound media kept (`media status`, `media link`) -------------------------------------


def _add_media_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    media = commands.add_parser("media", help="inbound media kept in S3 or the data dir")
    media_commands = media.add_subparsers(title="media commands", parser_class=_Parser)
    status = media_commands.add_parser(
        "status", help="a shop's media: how many pending, stored, failed; the failures"
    )
    status.add_argument("slug")
    status.set_defaults(handler=_cmd_media_status)
    link = media_commands.add_parser(
        "link", help="a short-lived link to the media of one message (S3 presigned or /media/…)"
    )
    link.add_argument("slug")
    link.add_argument("message_id", type=int)
    link.add_argument("--ttl", type=int, help="seconds (default CHATCENTRAL_MEDIA_LINK_TTL_S)")
    link.set_defaults(handler=_cmd_media_link)


def _cmd_media_status(args: argparse.Namespace) -> int:
    from chatcentral.media.report import summary

    async def call(engine: AsyncEngine, shop: Shop, settings: Settings) -> MediaSummary:
        return await summary(engine, shop)

    found = _shop_call(args.slug, call)
    counts = found.counts
    print(
        f"{args.slug}: {counts['stored']} stored ({found.stored_bytes} bytes), "
        f"{counts['pending']} pending, {counts['failed']} failed"
    )
    for failed in found.failed:
        print(
            f"failed\tmessage {failed.message_id}\t{failed.type}\t"
            f"{failed.attempts} tries\t{failed.created_at:%Y-%m-%d %H:%M}\t{failed.error or ''}"
        )
    return 0


def _cmd_media_link(args: argparse.Namespace) -> int:
    from chatcentral.db.engine import TenantBinder
    from chatcentral.media.staff_links import media_link
    from chatcentral.media.store import make_store

    async def call(engine: AsyncEngine, shop: Shop, settings: Settings) -> MediaLink | None:
        ttl = args.ttl or settings.chatcentral_media_link_ttl_s
        async with engine.connect() as raw:
            conn = await TenantBinder.bind(raw, shop.schema)
            return await media_link(conn, make_store(settings), args.message_id, expires_s=ttl)

    found = _shop_call(args.slug, call)
    if found is None:
        raise CliError(f"no message {args.message_id} in tenant {args.slug}")
    if found.url is None:
        state = found.state or "no media"
        raise CliError(f"message {args.message_id}: {state}, nothing stored to link to")
    print(found.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
