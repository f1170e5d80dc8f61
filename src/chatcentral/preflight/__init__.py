"""`chatcentral check`: is this installation ready to serve? (the brief's start-up checks)

Configuration (webhook secrets, the Graph API: Meta or a fake, a token for every shop, the
token key), the database (server, login, database, central schema, every shop schema), the
flows the shops use, and unless `--offline` the Graph API (each active shop's number and
token) and the S3 bucket. Each check is one line: `ok`, or `FAIL` with the cause and the
command or setting that fixes it. With CHATCENTRAL_ENV=production, `chatcentral run` runs
the offline checks first and refuses to start on any failure (`startup_failures`).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from sqlalchemy import Engine

from chatcentral.config import Settings
from chatcentral.conversation.flow import FlowError, shipped_flow
from chatcentral.conversation.flow_check import check_flow
from chatcentral.preflight.configuration import (
    check_graph_config,
    check_token_key,
    check_webhook_secrets,
)
from chatcentral.preflight.database import (
    Shop,
    check_database,
    check_engine,
    check_shop_schemas,
)
from chatcentral.preflight.remote import check_bucket, check_graph_api
from chatcentral.preflight.results import Result, failed, passed


def run_checks(
    settings: Settings,
    engine: Engine,
    *,
    offline: bool,
    transport: httpx.BaseTransport | None = None,
) -> list[Result]:
    database = check_database(engine)
    shops = database.shops
    results = [*check_webhook_secrets(settings), database.result]
    if shops is not None:
        results.append(check_shop_schemas(engine, shops))
    results.append(check_graph_config(settings, shops))
    results.append(check_token_key(settings, shops))
    if shops is not None:
        results.extend(_flows(shops))
    if not offline:
        if shops is not None:
            results.extend(check_graph_api(settings, shops, transport))
        results.append(check_bucket(settings))
    return results


def startup_failures(settings: Settings, url: str) -> list[Result]:
    """What stops `chatcentral run` in production: every failed offline check (a missing
    secret, a database not migrated, a fake Graph API, a broken flow)."""
    engine = check_engine(url, settings)
    try:
        return [r for r in run_checks(settings, engine, offline=True) if not r.ok]
    finally:
        engine.dispose()


def _flows(shops: list[Shop]) -> Iterator[Result]:
    for name in sorted({shop.flow for shop in shops}):
        try:
            problems = check_flow(shipped_flow(name))
        except FlowError as exc:
            yield failed(
                f"flow {name}",
                str(exc),
                f"restore flows/{name}.yaml or move its shops to another flow",
            )
            continue
        if problems:
            yield failed(
                f"flow {name}",
                "; ".join(p.message for p in problems[:3]),
                f"fix flows/{name}.yaml (`chatcentral flows check` lists every problem)",
            )
        else:
            yield passed(f"flow {name}", "complete and within limits")


__all__ = ["Result", "check_engine", "run_checks", "startup_failures"]
