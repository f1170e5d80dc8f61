"""Registering a shop's webhook endpoints: the URL must be HTTPS (plain HTTP only on this
machine, for testing), the signing secret is made here and shown once, and the shop's
plan must include outgoing webhooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.config import Settings
from chatcentral.models.tenant import WebhookEndpoint
from chatcentral.tenancy.secrets import encrypt_token

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ENDPOINTS = 5


class EndpointRefused(ValueError):
    """The URL is not one we deliver to, or the shop has too many endpoints."""


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    active: bool
    created_at: datetime
    last_status: str | None
    last_code: int | None
    last_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Created:
    endpoint: Endpoint
    secret: str  # shown once: the shop verifies X-Chatcentral-Signature with it


_COLUMNS = (
    WebhookEndpoint.id,
    WebhookEndpoint.url,
    WebhookEndpoint.active,
    WebhookEndpoint.created_at,
    WebhookEndpoint.last_status,
    WebhookEndpoint.last_code,
    WebhookEndpoint.last_attempt_at,
    WebhookEndpoint.last_error,
)


def checked_url(url: str) -> str:
    """The URL if we would deliver to it; EndpointRefused with the reason otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme == "https" and parts.hostname:
        return url.strip()
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return url.strip()
    raise EndpointRefused(f"{url!r}: an endpoint must be an https:// URL")


def _new(settings: Settings, url: str) -> tuple[dict[str, object], str]:
    secret = "whsec_" + secrets.token_urlsafe(32)
    return {"url": checked_url(url), "secret_encrypted": encrypt_token(settings, secret)}, secret


async def create(conn: AsyncConnection, settings: Settings, url: str) -> Created:
    """Add an endpoint on a connection bound to the shop's schema."""
    count = len((await conn.execute(select(WebhookEndpoint.id))).all())
    if count >= MAX_ENDPOINTS:
        raise EndpointRefused(f"a shop has at most {MAX_ENDPOINTS} webhook endpoints")
    values, secret = _new(settings, url)
    made = await conn.execute(insert(WebhookEndpoint).values(**values).returning(*_COLUMNS))
    return Created(Endpoint(**made.one()._mapping), secret)


async def listing(conn: AsyncConnection) -> list[Endpoint]:
    rows = await conn.execute(select(*_COLUMNS).order_by(WebhookEndpoint.id))
    return [Endpoint(**row._mapping) for row in rows.all()]


async def remove(conn: AsyncConnection, endpoint_id: int) -> bool:
    done = await conn.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    return bool(done.rowcount)
