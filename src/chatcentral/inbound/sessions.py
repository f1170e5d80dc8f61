"""The SQL of one inbound message: the customer, the message (deduplicated by wamid) and
the customer's session.

A returning customer's message takes one statement, sent on the driver connection in the
same round trip as BEGIN (`db/driver.py`): `OPEN` records the message, touches the
customer and locks the session, and returns what the engine needs. The first contact of a
customer (no customer or session row yet) takes the longer way: the SQLAlchemy
statements below, module constants with bind parameters, their tenant tables unqualified
and the caller's connection carrying the shop's `schema_translate_map`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import (
    DateTime,
    Integer,
    Row,
    Text,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.context import Context
from chatcentral.conversation.limits import Window
from chatcentral.db.driver import SchemaSQL
from chatcentral.models.tenant import Customer, CustomerSession, Message


class SessionRow(NamedTuple):
    id: int
    state: str
    context: dict[str, Any]
    last_message_at: datetime | None
    expires_at: datetime | None
    window_started_at: datetime | None = None
    window_count: int = 0
    window_noticed: bool = False

    @property
    def window(self) -> Window:
        return Window(self.window_started_at, self.window_count, self.window_noticed)


class Opened(NamedTuple):
    """What `OPEN` found: `customer_id` None for a first contact (nothing written),
    `message_id` None for a redelivery (nothing written), `session` None when the
    customer has no session row yet; `used` the shop's messages this month so far."""

    customer_id: int | None
    message_id: int | None
    session: SessionRow | None
    used: int


# Record the message for the customer known by BSUID or phone (the BSUID's row first when
# both exist apart); only when it is new, touch that customer, filling in the identifier
# it lacks when no other row holds it, and lock their session. A redelivery writes nothing.
OPEN = SchemaSQL("""
WITH chosen AS (
    SELECT id FROM {schema}.customers
    WHERE bsuid = %(bsuid)s::text OR wa_id = %(wa_id)s::text
    ORDER BY (bsuid IS NOT NULL AND bsuid = %(bsuid)s::text) DESC, id
    LIMIT 1
), recorded AS (
    INSERT INTO {schema}.messages (customer_id, direction, wamid, type, body, status, sent_at)
    SELECT id, 'in', %(wamid)s::text, %(type)s::text, %(body)s, 'received',
           %(sent_at)s::timestamptz
    FROM chosen
    ON CONFLICT (wamid) DO NOTHING
    RETURNING id, customer_id
), touched AS (
    UPDATE {schema}.customers c
    SET last_inbound_at = now(),
        name = coalesce(%(name)s::text, c.name),
        bsuid = CASE WHEN c.bsuid IS NULL AND %(bsuid)s::text IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM {schema}.customers o
                                      WHERE o.bsuid = %(bsuid)s::text)
                     THEN %(bsuid)s::text ELSE c.bsuid END,
        wa_id = CASE WHEN c.wa_id IS NULL AND %(wa_id)s::text IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM {schema}.customers o
                                      WHERE o.wa_id = %(wa_id)s::text)
                     THEN %(wa_id)s::text ELSE c.wa_id END
    FROM recorded WHERE c.id = recorded.customer_id
    RETURNING c.id
), session AS (
    SELECT s.id, s.state, s.context, s.last_message_at, s.expires_at,
           s.window_started_at, s.window_count, s.window_noticed
    FROM {schema}.customer_sessions s JOIN recorded r ON s.customer_id = r.customer_id
    FOR UPDATE OF s
)
SELECT (SELECT id FROM chosen), (SELECT id FROM recorded),
       coalesce((SELECT inbound_messages FROM central.monthly_usage
                 WHERE tenant_id = %(tenant_id)s::integer AND month = %(month)s::date), 0),
       s.id, s.state, s.context, s.last_message_at, s.expires_at,
       s.window_started_at, s.window_count, s.window_noticed
FROM (SELECT 1) AS one LEFT JOIN session s ON true
""")
SAVE = SchemaSQL("""
UPDATE {schema}.customer_sessions
SET state = %(state)s::text, context = %(context)s, version = version + 1,
    last_message_at = greatest(last_message_at, %(sent_at)s::timestamptz),
    updated_at = now(), expires_at = now() + %(lifetime)s::interval,
    window_started_at = %(window_started_at)s::timestamptz,
    window_count = %(window_count)s::integer, window_noticed = %(window_noticed)s::boolean
WHERE id = %(session_id)s::bigint
""")
# A message the limits answered (or kept silent about): only its window and time move.
SAVE_WINDOW = SchemaSQL("""
UPDATE {schema}.customer_sessions
SET last_message_at = greatest(last_message_at, %(sent_at)s::timestamptz), updated_at = now(),
    window_started_at = %(window_started_at)s::timestamptz,
    window_count = %(window_count)s::integer, window_noticed = %(window_noticed)s::boolean
WHERE id = %(session_id)s::bigint
""")
# The shop's messages this month (its plan's quota), counted with the COMMIT that holds
# the row's lock for the shortest while.
COUNT_MESSAGE = """
INSERT INTO central.monthly_usage (tenant_id, month, inbound_messages)
VALUES (%(tenant_id)s::integer, %(month)s::date, 1)
ON CONFLICT (tenant_id, month)
DO UPDATE SET inbound_messages = central.monthly_usage.inbound_messages + 1
"""
# A notice for the shop once per period: True only for the first to insert it.
NOTICE_ONCE = SchemaSQL("""
INSERT INTO {schema}.shop_notices (kind, period) VALUES (%(kind)s::text, %(period)s::text)
ON CONFLICT DO NOTHING RETURNING kind
""")

_customers = Customer.__table__
_other = _customers.alias("other")
_wa_id = bindparam("wa_id", type_=Text)
_bsuid = bindparam("bsuid", type_=Text)

# Touch the customer by BSUID or phone; fill in the identifier it lacks when no other row
# already holds it (linking the two identities the first time both arrive).
_TOUCH_CUSTOMER = (
    update(Customer)
    .where(or_(Customer.bsuid == _bsuid, Customer.wa_id == _wa_id))
    .values(
        last_inbound_at=func.now(),
        name=func.coalesce(bindparam("name", type_=Text), Customer.name),
        bsuid=case(
            (
                Customer.bsuid.is_(None)
                & _bsuid.is_not(None)
                & ~exists().where(_other.c.bsuid == _bsuid),
                _bsuid,
            ),
            else_=Customer.bsuid,
        ),
        wa_id=case(
            (
                Customer.wa_id.is_(None)
                & _wa_id.is_not(None)
                & ~exists().where(_other.c.wa_id == _wa_id),
                _wa_id,
            ),
            else_=Customer.wa_id,
        ),
    )
    .returning(Customer.id, Customer.bsuid)
)
_CREATE_CUSTOMER = (
    pg_insert(Customer)
    .values(
        wa_id=_wa_id,
        bsuid=_bsuid,
        name=bindparam("name", type_=Text),
        last_inbound_at=func.now(),
    )
    .on_conflict_do_nothing()
    .returning(Customer.id)
)
_RECORD_INBOUND = (
    pg_insert(Message)
    .values(
        customer_id=bindparam("customer_id", type_=Integer),
        direction="in",
        wamid=bindparam("wamid", type_=Text),
        type=bindparam("type", type_=Text),
        body=bindparam("body", type_=JSONB),
        status="received",
        sent_at=bindparam("sent_at", type_=DateTime(timezone=True)),
    )
    .on_conflict_do_nothing(index_elements=[Message.wamid])
    .returning(Message.id)
)
_MARK_STALE = (
    update(Message)
    .where(Message.id == bindparam("message_id", type_=Integer))
    .values(status="stale")
)
_SESSION = select(
    CustomerSession.id,
    CustomerSession.state,
    CustomerSession.context,
    CustomerSession.last_message_at,
    CustomerSession.expires_at,
    CustomerSession.window_started_at,
    CustomerSession.window_count,
    CustomerSession.window_noticed,
).where(CustomerSession.customer_id == bindparam("customer_id", type_=Integer))
_LOCK_SESSION = _SESSION.with_for_update()
_CREATE_SESSION = (
    pg_insert(CustomerSession)
    .values(customer_id=bindparam("customer_id", type_=Integer), state="new", context={})
    .on_conflict_do_nothing(index_elements=[CustomerSession.customer_id])
)


async def open_message(
    pg: psycopg.AsyncConnection[Any],
    schema: str,
    *,
    wa_id: str | None,
    bsuid: str | None,
    name: str | None,
    wamid: str,
    type_: str,
    body: dict[str, Any],
    sent_at: datetime,
    tenant_id: int,
    month: date,
) -> Opened:
    """`OPEN` in the shop's schema: one round trip (after psycopg's BEGIN, which it always
    waits for). In a pipeline even when psycopg prepares it: outside one, preparing is a
    round trip of its own."""
    params = {
        "wa_id": wa_id,
        "bsuid": bsuid,
        "name": name,
        "wamid": wamid,
        "type": type_,
        "body": Jsonb(body),
        "sent_at": sent_at,
        "tenant_id": tenant_id,
        "month": month,
    }
    async with pg.pipeline():  # fetched after the pipeline's one Sync, not before it
        cursor = await pg.execute(OPEN.text(schema), params)
    row = await cursor.fetchone()
    assert row is not None  # the statement always yields its one row
    customer_id, message_id, used, *columns = row
    session = SessionRow(*columns) if columns[0] is not None else None
    return Opened(customer_id, message_id, session, int(used))


async def touch_customer(
    conn: AsyncConnection, wa_id: str | None, bsuid: str | None, name: str | None
) -> int:
    """The customer's id, created on first contact; identities linked when both arrive."""
    params = {"wa_id": wa_id, "bsuid": bsuid, "name": name}
    rows = (await conn.execute(_TOUCH_CUSTOMER, params)).all()
    if rows:
        # Identities split across two rows (seen separately before): prefer the BSUID one.
        return int(next((r.id for r in rows if bsuid and r.bsuid == bsuid), rows[0].id))
    created = (await conn.execute(_CREATE_CUSTOMER, params)).scalar()
    if created is None:  # a concurrent first message of the same customer won the race
        return await touch_customer(conn, wa_id, bsuid, name)
    return int(created)


async def record_inbound(
    conn: AsyncConnection,
    customer_id: int,
    wamid: str,
    type_: str,
    body: dict[str, Any],
    sent_at: datetime,
) -> int | None:
    """Insert the inbound message; None when its wamid was already recorded (a retry)."""
    params = {
        "customer_id": customer_id,
        "wamid": wamid,
        "type": type_,
        "body": body,
        "sent_at": sent_at,
    }
    value = (await conn.execute(_RECORD_INBOUND, params)).scalar()
    return int(value) if value is not None else None


async def mark_stale(conn: AsyncConnection, message_id: int) -> None:
    await conn.execute(_MARK_STALE, {"message_id": message_id})


async def lock_session(conn: AsyncConnection, customer_id: int) -> SessionRow:
    """The customer's session row, locked until commit; created on first contact."""
    params = {"customer_id": customer_id}
    row: Row[Any] | None = (await conn.execute(_LOCK_SESSION, params)).first()
    if row is None:
        await conn.execute(_CREATE_SESSION, params)
        row = (await conn.execute(_LOCK_SESSION, params)).one()
    return SessionRow._make(row)


async def save_session(
    pg: psycopg.AsyncConnection[Any],
    schema: str,
    session_id: int,
    state: str,
    context: Context,
    sent_at: datetime,
    lifetime: timedelta,
    window: Window,
) -> None:
    """Queue the session's update (in the caller's pipeline, with the COMMIT)."""
    params = {
        "session_id": session_id,
        "state": state,
        "context": Jsonb(context),
        "sent_at": sent_at,
        "lifetime": lifetime,
        **_window(window),
    }
    await pg.execute(SAVE.text(schema), params)


async def save_window(
    pg: psycopg.AsyncConnection[Any],
    schema: str,
    session_id: int,
    sent_at: datetime,
    window: Window,
) -> None:
    """Queue the update of a message the limits kept from the flow."""
    params = {"session_id": session_id, "sent_at": sent_at, **_window(window)}
    await pg.execute(SAVE_WINDOW.text(schema), params)


async def count_message(pg: psycopg.AsyncConnection[Any], tenant_id: int, month: date) -> None:
    """Queue this month's count of the shop's messages (in the pipeline of the COMMIT)."""
    await pg.execute(COUNT_MESSAGE, {"tenant_id": tenant_id, "month": month})


async def notice_once(
    pg: psycopg.AsyncConnection[Any], schema: str, kind: str, period: str
) -> bool:
    """Whether this is the first notice of `kind` for `period` (recorded if so)."""
    cursor = await pg.execute(NOTICE_ONCE.text(schema), {"kind": kind, "period": period})
    return await cursor.fetchone() is not None


def _window(window: Window) -> dict[str, Any]:
    return {
        "window_started_at": window.started_at,
        "window_count": window.count,
        "window_noticed": window.noticed,
    }
