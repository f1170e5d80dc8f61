"""`chatcentral check`: is this installation ready to serve? (the brief's start-up checks)

Configuration, the database (reachable, central schema and every shop schema at head), the
flows the shops use, and unless `--offline` the Graph API (each active shop's number and
token) and the S3 bucket. Each check is one line: `ok` or `FAIL` with what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, select, text

from chatcentral.config import ConfigError, Settings
from chatcentral.conversation.flow import FlowError, shipped_flow
from chatcentral.conversation.flow_check import check_flow
from chatcentral.db.migrations import current_tenant_revision, head_revision
from chatcentral.models.central import Tenant
from chatcentral.tenancy.secrets import token_for


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass(frozen=True)
class _Shop:
    slug: str
    schema: str
    phone_number_id: str
    flow: str
    active: bool
    token: bytes | None


def run_checks(
    settings: Settings,
    engine: Engine,
    *,
    offline: bool,
    transport: httpx.BaseTransport | None = None,
) -> list[Result]:
    results = [_configuration(settings)]
    try:
        shops = _shops(engine)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return [*results, Result("database", False, f"unreachable ({type(exc).__name__})")]
    results.append(_schemas(engine, shops))
    results.extend(_flows(shops))
    if not offline:
        results.extend(_graph_api(settings, shops, transport))
        results.append(_bucket(settings))
    return results


def _configuration(settings: Settings) -> Result:
    try:
        settings.require("whatsapp_app_secret", "whatsapp_verify_token")
    except ConfigError as exc:
        return Result("configuration", False, str(exc))
    if settings.whatsapp_access_token is None:
        return Result(
            "configuration",
            False,
            "WHATSAPP_ACCESS_TOKEN is not set: shops without their own token cannot send",
        )
    return Result("configuration", True, "webhook secrets and default Graph API token set")


def _shops(engine: Engine) -> list[_Shop]:
    query = select(
        Tenant.slug,
        Tenant.schema_name,
        Tenant.phone_number_id,
        Tenant.flow,
        Tenant.active,
        Tenant.access_token_encrypted,
    ).order_by(Tenant.id)
    with engine.connect() as conn:
        return [_Shop(*row) for row in conn.execute(query).all()]


def _schemas(engine: Engine, shops: list[_Shop]) -> Result:
    head = head_revision("tenant")
    with engine.connect() as conn:
        central = conn.execute(text("SELECT version_num FROM central.alembic_version")).scalar()
        behind = [s.slug for s in shops if current_tenant_revision(conn, s.schema) != head]
    if central != head_revision("central"):
        return Result("database", False, "central schema behind head: run `chatcentral migrate`")
    if behind:
        return Result(
            "database",
            False,
            f"{len(behind)} shop schema(s) behind head ({', '.join(behind[:5])}): run "
            "`chatcentral migrate`",
        )
    return Result("database", True, f"reachable; central and {len(shops)} shop schema(s) at head")


def _flows(shops: list[_Shop]) -> Iterator[Result]:
    for name in sorted({shop.flow for shop in shops}):
        try:
            problems = check_flow(shipped_flow(name))
        except FlowError as exc:
            yield Result(f"flow {name}", False, str(exc))
            continue
        detail = "; ".join(p.message for p in problems[:3]) or "complete and within limits"
        yield Result(f"flow {name}", not problems, detail)


def _graph_api(
    settings: Settings, shops: list[_Shop], transport: httpx.BaseTransport | None
) -> Iterator[Result]:
    active = [shop for shop in shops if shop.active]
    if not active:
        yield Result("graph api", True, "no active shops to check")
        return
    base = f"{settings.whatsapp_api_base_url}/{settings.whatsapp_api_version}"
    with httpx.Client(timeout=10, transport=transport) as client:
        for shop in active:
            try:
                token = token_for(settings, shop.token)
            except ConfigError as exc:
                yield Result(f"graph api {shop.slug}", False, str(exc))
                continue
            if token is None:
                yield Result(f"graph api {shop.slug}", False, "no access token")
                continue
            yield _number(client, base, shop, token)


def _number(client: httpx.Client, base: str, shop: _Shop, token: str) -> Result:
    name = f"graph api {shop.slug}"
    try:
        response = client.get(
            f"{base}/{shop.phone_number_id}",
            params={"fields": "display_phone_number,quality_rating"},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        return Result(name, False, f"Graph API unreachable ({type(exc).__name__})")
    if response.status_code == 200:
        data = response.json()
        return Result(
            name,
            True,
            f"number {data.get('display_phone_number', '?')}, quality "
            f"{data.get('quality_rating', '?')}",
        )
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    hint = (
        "token rejected: renew it"
        if code == 190 or response.status_code == 401
        else ("check the phone number id")
    )
    return Result(name, False, f"HTTP {response.status_code}, code {code}: {hint}")


def _bucket(settings: Settings) -> Result:
    if not settings.chatcentral_s3_bucket:
        return Result("s3", True, "no bucket configured (media archive off)")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    try:
        client.head_bucket(Bucket=settings.chatcentral_s3_bucket)
    except (BotoCoreError, ClientError) as exc:
        return Result("s3", False, f"bucket {settings.chatcentral_s3_bucket}: {exc}")
    return Result("s3", True, f"bucket {settings.chatcentral_s3_bucket} reachable")
