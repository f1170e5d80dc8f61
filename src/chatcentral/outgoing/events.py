"""Queueing an event for each of a shop's webhook endpoints, in the transaction of the
change it reports (the order placed, its status moved): delivered by the dispatcher
through the outbox, retried with backoff, in order per endpoint, never lost.

The body is fixed when queued; the dispatcher signs it when it sends it
(`X-Chatcentral-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body with the endpoint's
secret), so queueing needs no key and can never make an order fail. A receiver checks the
signature and deduplicates a retry by the event's `id`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.shop import Shop
from chatcentral.models.tenant import WebhookEndpoint
from chatcentral.outbox import enqueue

KIND = "webhook"
FEATURE = "outgoing_webhooks"
SIGNATURE_HEADER = "X-Chatcentral-Signature"
ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"

_ACTIVE = select(WebhookEndpoint.id).where(WebhookEndpoint.active)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def recipient(endpoint_id: int) -> str:
    """The outbox queue key of an endpoint: its events leave in order."""
    return f"webhook:{endpoint_id}"


async def emit(conn: AsyncConnection, shop: Shop, event: str, data: dict[str, Any]) -> int:
    """Queue `event` for every active endpoint of the shop (its connection is bound to
    the shop's schema); how many. Nothing when its plan does not include them."""
    if not shop.includes(FEATURE):
        return 0
    endpoints = (await conn.execute(_ACTIVE)).scalars().all()
    if not endpoints:
        return 0
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "event": event,
            "created_at": datetime.now(UTC).isoformat(),
            "shop": shop.slug,
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    for endpoint_id in endpoints:
        payload = {"endpoint_id": endpoint_id, "event": event, "body": body}
        await enqueue.queue_call(conn, shop.id, KIND, recipient(endpoint_id), payload)
    return len(endpoints)
