"""`chatcentral migrate`: the central schema, then every tenant schema, in parallel.

Each tenant is upgraded in its own transaction by a pool of worker processes (Alembic's
proxies are process-global). Tenants already at head are skipped, so a run interrupted
or partly failed is simply run again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from sqlalchemy import Engine, select, text

from chatcentral.config import Settings
from chatcentral.db.engine import make_sync_engine
from chatcentral.db.migrations import current_tenant_revision, head_revision, upgrade_central
from chatcentral.db.migrations import upgrade_tenant as _upgrade_tenant
from chatcentral.models.central import Tenant

# A migration waiting on a busy table gives up instead of stalling live traffic behind it.
LOCK_TIMEOUT = "10s"


@dataclass
class MigrationReport:
    upgraded: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.upgraded) + len(self.current) + len(self.failed)


Progress = Callable[[str, str], None]


def migrate_all(
    url: str,
    *,
    workers: int | None = None,
    on_tenant: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    settings: Settings | None = None,
) -> MigrationReport:
    """Upgrade central, then each tenant; report which were upgraded, current or failed.
    `settings` carries the driver's options (prepared statements off behind PgBouncer)."""
    engine = make_sync_engine(url, settings)
    try:
        with engine.begin() as conn:
            upgrade_central(conn)
        tenants = _tenant_schemas(engine)
    finally:
        engine.dispose()
    if on_start:
        on_start(len(tenants))
    report = MigrationReport()
    if not tenants:
        return report
    workers = workers or min(4, (os.cpu_count() or 1) * 2)
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_init, initargs=(url, settings)
    ) as pool:
        futures = {pool.submit(_migrate_one, schema): slug for slug, schema in tenants}
        for future in as_completed(futures):
            slug = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker fails only its tenant
                outcome = f"failed: {exc}"
            if outcome == "upgraded":
                report.upgraded.append(slug)
            elif outcome == "current":
                report.current.append(slug)
            else:
                report.failed[slug] = outcome.removeprefix("failed: ")
            if on_tenant:
                on_tenant(slug, outcome)
    return report


def _tenant_schemas(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Tenant.slug, Tenant.schema_name).order_by(Tenant.id)).all()
    return [(row.slug, row.schema_name) for row in rows]


_worker_engine: Engine | None = None


def _worker_init(url: str, settings: Settings | None) -> None:
    global _worker_engine
    _worker_engine = make_sync_engine(url, settings)


def _migrate_one(schema: str) -> str:
    assert _worker_engine is not None
    try:
        with _worker_engine.begin() as conn:
            if current_tenant_revision(conn, schema) == head_revision("tenant"):
                return "current"
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            _upgrade_tenant(conn, schema)
        return "upgraded"
    except Exception as exc:  # noqa: BLE001 - reported to the operator, never raised
        return f"failed: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__
