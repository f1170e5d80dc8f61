"""The SQL of one inbound message: the customer, the message (deduplicated by wamid) and
the customer's session, built once at import and reused for every message.

Statements are module constants with bind parameters: building SQLAlchemy constructs per
call costs more CPU than the round trip itself on this path. Tenant tables are unqualified
here; the caller's connection carries the shop's `schema_translate_map`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Interval,
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
from chatcentral.models.tenant import Customer, CustomerSession, Message

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
).where(CustomerSession.customer_id == bindparam("customer_id", type_=Integer))
_LOCK_SESSION = _SESSION.with_for_update()
_CREATE_SESSION = (
    pg_insert(CustomerSession)
    .values(customer_id=bindparam("customer_id", type_=Integer), state="new", context={})
    .on_conflict_do_nothing(index_elements=[CustomerSession.customer_id])
)
_SAVE_SESSION = (
    update(CustomerSession)
    .where(CustomerSession.id == bindparam("session_id", type_=Integer))
    .values(
        state=bindparam("state", type_=Text),
        context=bindparam("context", type_=JSONB),
        version=CustomerSession.version + 1,
        last_message_at=func.greatest(
            CustomerSession.last_message_at, bindparam("sent_at", type_=DateTime(timezone=True))
        ),
        updated_at=func.now(),
        expires_at=func.now() + bindparam("lifetime", type_=Interval),
    )
)


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


async def lock_session(conn: AsyncConnection, customer_id: int) -> Row[Any]:
    """The customer's session row, locked until commit; created on first contact."""
    params = {"customer_id": customer_id}
    row = (await conn.execute(_LOCK_SESSION, params)).first()
    if row is not None:
        return row
    await conn.execute(_CREATE_SESSION, params)
    return (await conn.execute(_LOCK_SESSION, params)).one()


async def save_session(
    conn: AsyncConnection,
    session_id: int,
    state: str,
    context: Context,
    sent_at: datetime,
    lifetime: timedelta,
) -> None:
    params = {
        "session_id": session_id,
        "state": state,
        "context": context,
        "sent_at": sent_at,
        "lifetime": lifetime,
    }
    await conn.execute(_SAVE_SESSION, params)
