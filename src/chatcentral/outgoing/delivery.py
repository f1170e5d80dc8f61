"""Delivering a queued event: the endpoint's URL and secret read when it is sent (a
removed endpoint is not sent to), one POST of the body fixed at queueing, signed, answered
like a Graph API call for the dispatcher (accepted, retry, or failed for good); and the
endpoint's last outcome, written where the shop's API shows it."""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport
from sqlalchemy import Integer, Text, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.config import ConfigError, Settings
from chatcentral.db.engine import TenantBinder
from chatcentral.models.tenant import WebhookEndpoint
from chatcentral.outbox.rows import Claimed
from chatcentral.outgoing.events import KIND, SIGNATURE_HEADER, sign
from chatcentral.tenancy.secrets import decrypt_token
from chatcentral.whatsapp.graph import SendFailure, SendResult, Verdict

TIMEOUT_S = 10.0
# Answers worth trying again: the receiver is busy or down, not refusing the event.
_PASSING = frozenset({408, 425, 429})

_ENDPOINT = select(
    WebhookEndpoint.url, WebhookEndpoint.secret_encrypted, WebhookEndpoint.active
).where(WebhookEndpoint.id == bindparam("endpoint_id", type_=Integer))
_LAST = (
    update(WebhookEndpoint)
    .where(WebhookEndpoint.id == bindparam("endpoint_id", type_=Integer))
    .values(
        last_status=bindparam("status", type_=Text),
        last_code=bindparam("code", type_=Integer),
        last_error=bindparam("error", type_=Text),
        last_attempt_at=func.now(),
    )
)


class WebhookSender:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        limits = httpx.Limits(max_connections=64, keepalive_expiry=30.0)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(TIMEOUT_S, connect=5.0),
            limits=limits,
            transport=transport or AiohttpTransport(limits=limits),
            follow_redirects=False,
        )

    async def send(self, engine: AsyncEngine, settings: Settings, row: Claimed) -> SendResult:
        endpoint_id = int(str(row.payload.get("endpoint_id", 0)))
        async with engine.connect() as conn:
            tenant = await TenantBinder.bind(conn, row.schema)
            found = (await tenant.execute(_ENDPOINT, {"endpoint_id": endpoint_id})).first()
        if found is None or not found.active:
            return SendResult(failure=SendFailure(Verdict.PERMANENT, "endpoint removed"))
        try:
            secret = decrypt_token(settings, found.secret_encrypted)
        except ConfigError as exc:  # the operator's key: retried, not dropped
            return SendResult(failure=SendFailure(Verdict.RETRY, str(exc)[:300]))
        body = str(row.payload.get("body", "")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            "User-Agent": "chatcentral-webhooks",
        }
        try:
            response = await self._client.post(found.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return SendResult(failure=SendFailure(Verdict.RETRY, "timeout"))
        except httpx.HTTPError as exc:
            return SendResult(failure=SendFailure(Verdict.RETRY, f"network: {type(exc).__name__}"))
        status = response.status_code
        if 200 <= status < 300:
            return SendResult()
        verdict = Verdict.RETRY if status >= 500 or status in _PASSING else Verdict.PERMANENT
        return SendResult(failure=SendFailure(verdict, f"HTTP {status}", http_status=status))

    async def aclose(self) -> None:
        await self._client.aclose()


async def record_delivered(conn: AsyncConnection, row: Claimed) -> None:
    """Dispatcher hook after a send went out: the endpoint's last outcome."""
    if row.kind == KIND:
        await _last(conn, row, "delivered", 200, None)


async def record_failed(conn: AsyncConnection, row: Claimed, failure: SendFailure) -> None:
    """Dispatcher hook after a send failed for good."""
    if row.kind == KIND:
        await _last(conn, row, "failed", failure.http_status, failure.reason[:300])


async def _last(
    conn: AsyncConnection, row: Claimed, status: str, code: int | None, error: str | None
) -> None:
    tenant = await TenantBinder.bind(conn, row.schema)
    params = {
        "endpoint_id": int(str(row.payload.get("endpoint_id", 0))),
        "status": status,
        "code": code,
        "error": error,
    }
    await tenant.execute(_LAST, params)
