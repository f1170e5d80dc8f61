"""Queueing Graph API calls in `central.outbox`, inside the caller's transaction.

The dispatcher sends them after commit, in order per recipient. Statements are built
once at import; tenant tables are unqualified and the caller's connection carries the
shop's `schema_translate_map`.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Integer, Text, bindparam, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.db.driver import SchemaSQL
from chatcentral.models.central import Outbox
from chatcentral.models.tenant import Message

# The reply's message row and its outbox row in one round trip; the outbox trigger
# (central migration c0003) wakes the dispatcher at commit.
_reply = (
    pg_insert(Message)
    .values(
        customer_id=bindparam("customer_id", type_=Integer),
        direction="out",
        type=bindparam("type", type_=Text),
        body=bindparam("body", type_=JSONB),
        status="queued",
        handoff_id=bindparam("handoff_id", type_=Integer),
    )
    .returning(Message.id)
    .cte("reply")
)
# A reply and its send for the message path, on the driver connection (`db/driver.py`);
# the last reply to a message carries its mark-read.
QUEUE_REPLY = SchemaSQL("""
WITH reply AS (
    INSERT INTO {schema}.messages (customer_id, direction, type, body, status)
    VALUES (%(customer_id)s::bigint, 'out', %(type)s::text, %(body)s, 'queued')
    RETURNING id)
INSERT INTO central.outbox (tenant_id, kind, recipient, payload, message_id, mark_read_wamid)
SELECT %(tenant_id)s::integer, 'message', %(recipient)s::text, %(payload)s, reply.id,
       %(mark_read_wamid)s::text
FROM reply
""")
# A message of any kind (a reply outside the message path, news for the shop's staff),
# with the call to make instead if Meta refuses it for a closed 24-hour window (131047).
_QUEUE_MESSAGE = pg_insert(Outbox).from_select(
    ["tenant_id", "kind", "recipient", "payload", "fallback", "message_id"],
    select(
        bindparam("tenant_id", type_=Integer),
        bindparam("kind", type_=Text),
        bindparam("recipient", type_=Text),
        bindparam("payload", type_=JSONB),
        bindparam("fallback", type_=JSONB(none_as_null=True)),
        _reply.c.id,
    ),
)
_QUEUE_CALL = pg_insert(Outbox).values(
    tenant_id=bindparam("tenant_id", type_=Integer),
    kind=bindparam("kind", type_=Text),
    recipient=bindparam("recipient", type_=Text),
    payload=bindparam("payload", type_=JSONB),
)


async def queue_replies(
    pg: psycopg.AsyncConnection[Any],
    schema: str,
    tenant_id: int,
    customer_id: int,
    recipient: str,
    calls: list[tuple[dict[str, Any], dict[str, Any]]],
    *,
    mark_read_wamid: str | None = None,
) -> None:
    """Record each outbound reply in the shop's `schema` and queue its send (`QUEUE_REPLY`),
    in order, on the driver connection (in the caller's pipeline); the last one carries
    `mark_read_wamid`."""
    for number, (reply, payload) in enumerate(calls, start=1):
        params = {
            "tenant_id": tenant_id,
            "customer_id": customer_id,
            "recipient": recipient,
            "type": reply.get("type", "unknown"),
            "body": Jsonb(reply),
            "payload": Jsonb(payload),
            "mark_read_wamid": mark_read_wamid if number == len(calls) else None,
        }
        await pg.execute(QUEUE_REPLY.text(schema), params)


async def queue_call(
    conn: AsyncConnection, tenant_id: int, kind: str, recipient: str, payload: dict[str, Any]
) -> None:
    """Queue a Graph API call that has no message row (mark-read, typing indicator)."""
    params = {"tenant_id": tenant_id, "kind": kind, "recipient": recipient, "payload": payload}
    await conn.execute(_QUEUE_CALL, params)


async def queue_message(
    conn: AsyncConnection,
    tenant_id: int,
    kind: str,
    recipient: str,
    message: dict[str, Any],
    payload: dict[str, Any],
    *,
    customer_id: int | None = None,
    fallback: dict[str, Any] | None = None,
    handoff_id: int | None = None,
) -> None:
    """Record an outbound message (to a customer or not) and queue its send as `kind`;
    `fallback` is the full call the dispatcher makes instead if Meta answers 131047;
    `handoff_id` ties a message relayed in a handoff to it (a reply to it finds it)."""
    params = {
        "tenant_id": tenant_id,
        "kind": kind,
        "customer_id": customer_id,
        "recipient": recipient,
        "type": message.get("type", "unknown"),
        "body": message,
        "payload": payload,
        "fallback": fallback,
        "handoff_id": handoff_id,
    }
    await conn.execute(_QUEUE_MESSAGE, params)
