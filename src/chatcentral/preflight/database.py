"""The database checks: can we log in, is the central schema there and at head, is every
shop schema at head. Each failure says which of those it is, because each has its own fix:
a server that is down, a wrong password, a database never created and an empty database
all used to read `unreachable`.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from chatcentral.config import Settings
from chatcentral.db.engine import async_url, driver_options
from chatcentral.db.migrations import Kind, alembic_config, current_tenant_revision, head_revision
from chatcentral.models.central import Tenant
from chatcentral.preflight.results import Result, failed, passed

MIGRATE = "run `chatcentral migrate`"
# A server that does not answer (a firewall dropping packets) must not hang the check.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Shop:
    slug: str
    schema: str
    phone_number_id: str
    flow: str
    active: bool
    token: bytes | None


@dataclass(frozen=True)
class DatabaseState:
    """The `database` line, and the shops when the registry could be read."""

    result: Result
    shops: list[Shop] | None
    conn_ok: bool  # logged in: the shop schema check can run


def check_engine(url: str, settings: Settings | None = None) -> Engine:
    """An engine for the checks: no pool, a bounded wait for the server."""
    return create_engine(
        async_url(url),
        poolclass=NullPool,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_S,
            **driver_options(settings, "chatcentral-check"),
        },
    )


def check_database(engine: Engine) -> DatabaseState:
    try:
        with engine.connect() as conn:
            return _registry(conn, engine)
    except DBAPIError as exc:
        if exc.connection_invalidated or _is_connect_failure(exc):
            return DatabaseState(connection_failure(engine, exc), None, False)
        return DatabaseState(_query_failure(exc), None, False)


def _registry(conn: Connection, engine: Engine) -> DatabaseState:
    where = _where(engine)
    if conn.execute(text("SELECT to_regclass('central.alembic_version')")).scalar() is None:
        result = failed(
            "database",
            f"{where} is reachable but the central schema is missing (an empty database)",
            MIGRATE,
        )
        return DatabaseState(result, None, True)
    version = conn.execute(text("SELECT version_num FROM central.alembic_version")).scalar()
    head = head_revision("central")
    if version != head:
        return DatabaseState(_revision_mismatch("central schema", "central", version), None, True)
    query = select(
        Tenant.slug,
        Tenant.schema_name,
        Tenant.phone_number_id,
        Tenant.flow,
        Tenant.active,
        Tenant.access_token_encrypted,
    ).order_by(Tenant.id)
    shops = [Shop(*row) for row in conn.execute(query).all()]
    result = passed("database", f"{where} reachable; central schema at head ({head})")
    return DatabaseState(result, shops, True)


def check_shop_schemas(engine: Engine, shops: list[Shop]) -> Result:
    head = head_revision("tenant")
    missing: list[str] = []
    behind: list[str] = []
    ahead: list[str] = []
    with engine.connect() as conn:
        for shop in shops:
            revision = current_tenant_revision(conn, shop.schema)
            if revision is None:
                missing.append(shop.slug)
            elif revision != head:
                (behind if _known("tenant", revision) else ahead).append(shop.slug)
    if ahead:
        return failed(
            "shop schemas",
            f"{len(ahead)} shop schema(s) newer than this release ({_few(ahead)})",
            "deploy the chatcentral release that migrated them (never downgrade the code alone)",
        )
    if missing or behind:
        parts = []
        if behind:
            parts.append(f"{len(behind)} behind head ({_few(behind)})")
        if missing:
            parts.append(f"{len(missing)} never migrated ({_few(missing)})")
        return failed("shop schemas", f"shop schemas not at {head}: {', '.join(parts)}", MIGRATE)
    return passed("shop schemas", f"{len(shops)} shop schema(s) at head ({head})")


def connection_failure(engine: Engine, exc: BaseException) -> Result:
    """Name why logging in failed: no server, wrong credentials, no such database."""
    url = engine.url
    where = _where(engine)
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None)
    message = str(orig)
    lowered = message.lower()
    if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
        return failed(
            "database",
            f"the server at {_server(engine)} answers but database {url.database!r} does not exist",
            f"create it (`createdb -O {url.username or 'USER'} {url.database}`) or fix the "
            "database name in DATABASE_URL, then run `chatcentral migrate`",
        )
    if state in {"28P01", "28000"} or "authentication failed" in lowered or "pg_hba" in lowered:
        return failed(
            "database",
            f"the server at {_server(engine)} refused role {url.username!r} "
            "(authentication failed)",
            "fix the user and password in DATABASE_URL (or the server's pg_hba.conf)",
        )
    if "role" in lowered and "does not exist" in lowered:
        return failed(
            "database",
            f"the server at {_server(engine)} has no role {url.username!r}",
            "fix the user in DATABASE_URL or create the role (`createuser`)",
        )
    reason = _unreachable_reason(lowered)
    if reason is not None:
        return failed(
            "database",
            f"cannot reach the PostgreSQL server at {_server(engine)} ({reason})",
            "start PostgreSQL there, or fix the host and port in DATABASE_URL "
            "(unset it to use the embedded server)",
        )
    first = message.strip().splitlines()[0] if message.strip() else type(orig).__name__
    return failed("database", f"cannot connect to {where}: {first}", "check DATABASE_URL")


def _query_failure(exc: DBAPIError) -> Result:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state == "42501":  # insufficient_privilege
        return failed(
            "database",
            "logged in, but the role may not read the central schema",
            "use the role that owns the schemas in DATABASE_URL (or GRANT it access)",
        )
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if state == "42P01":  # undefined_table: a central schema only partly there
        return failed("database", f"the central schema is incomplete ({first})", MIGRATE)
    return failed(
        "database",
        f"reading the central schema failed: {first}",
        "see the PostgreSQL server's log, then run `chatcentral check` again",
    )


def _is_connect_failure(exc: DBAPIError) -> bool:
    # psycopg reports every failure to log in as OperationalError raised from connect().
    return type(exc.orig).__name__ == "OperationalError" and "connection" in str(exc.orig).lower()


def _unreachable_reason(message: str) -> str | None:
    for needle, reason in (
        ("connection refused", "connection refused"),
        ("timeout expired", "no answer within the connect timeout"),
        ("could not translate host name", "unknown host name"),
        ("name or service not known", "unknown host name"),
        ("no such file or directory", "no server listening on that socket"),
        ("network is unreachable", "network unreachable"),
        ("no route to host", "no route to host"),
        ("server closed the connection", "the server closed the connection"),
        ("the database system is starting up", "the server is still starting up"),
        ("the database system is shutting down", "the server is shutting down"),
    ):
        if needle in message:
            return reason
    return None


def _revision_mismatch(label: str, kind: Kind, version: str | None) -> Result:
    head = head_revision(kind)
    if version is not None and not _known(kind, version):
        return failed(
            "database",
            f"{label} is at {version}, newer than this release knows (head {head})",
            "deploy the chatcentral release that migrated it (never downgrade the code alone)",
        )
    return failed("database", f"{label} is at {version or 'no revision'}, behind {head}", MIGRATE)


def _known(kind: Kind, revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config(kind)).get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic's ResolutionError and friends: not ours
        return False


def _server(engine: Engine) -> str:
    url = make_url(str(engine.url))
    host = url.host or url.query.get("host") or "the local socket"
    if isinstance(host, tuple):
        host = host[0]
    return f"{host}:{url.port}" if url.port else str(host)


def _where(engine: Engine) -> str:
    return f"database {engine.url.database!r} on {_server(engine)}"


def _few(slugs: list[str]) -> str:
    return ", ".join(slugs[:5]) + (f" and {len(slugs) - 5} more" if len(slugs) > 5 else "")
