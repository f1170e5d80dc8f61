"""Nobody answered in time: the customer in a handoff is told so and offered the menu.

A handoff's wait starts with the customer's first unanswered message (`waiting_since`,
set when the handoff opens and again after each answer); once the shop's timeout
(`handoff_timeout_minutes` in its settings, 10 by default) has passed *in business
hours* — the clock stops while the shop is closed and waits for the opening — the
customer gets one message with the menu and "keep waiting" buttons, and `timed_out_at`
makes it once per wait. A shop without business hours counts every minute.

`time_out_waits` is one pass over every active shop; `run` repeats it beside the outbox
dispatcher in every process that sends. Several processes may run it at once: each shop's
waiting handoffs are taken with FOR UPDATE SKIP LOCKED in a short transaction of their
own, so a handoff is handled by one of them, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, DateTime, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.conversation import handoff_views as views
from chatcentral.conversation import hours
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import TenantBinder
from chatcentral.handoffs.relay import queue_to_customer
from chatcentral.metrics import HANDOFF_TIMEOUTS
from chatcentral.models.tenant import Customer, Handoff
from chatcentral.notifications.window import WINDOW
from chatcentral.outbox.pacing import pause
from chatcentral.tenancy.directory import load_shops

log = logging.getLogger(__name__)

CHECK_EVERY_S = 30.0

_NOW = bindparam("now", type_=DateTime(timezone=True))
# Waits long enough in wall-clock time (business time is never longer), not yet told.
_WAITING = (
    select(
        Handoff.id,
        Handoff.waiting_since,
        Customer.id.label("customer_id"),
        Customer.name,
        Customer.wa_id,
        Customer.bsuid,
        (Customer.last_inbound_at > _NOW - WINDOW).label("window_open"),
    )
    .join(Customer, Customer.id == Handoff.customer_id)
    .where(
        Handoff.status != "closed",
        Handoff.waiting_since <= bindparam("cutoff", type_=DateTime(timezone=True)),
        Handoff.timed_out_at.is_(None),
    )
    .order_by(Handoff.id)
    .with_for_update(of=Handoff, skip_locked=True)
)
_TIMED_OUT = (
    update(Handoff)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
    .values(timed_out_at=_NOW)
)


def due(shop: Shop, waiting_since: datetime, now: datetime, minutes: int) -> bool:
    """Whether a wait that began at `waiting_since` has lasted `minutes` of the shop's
    open time by `now` (and the shop is open now: nobody is told at night)."""
    if not _has_hours(shop):
        return now - waiting_since >= timedelta(minutes=minutes)
    opened = shop.business_hours
    if not hours.is_open(opened, None, shop.timezone, now):
        return False
    waited = hours.business_seconds_between(opened, None, shop.timezone, waiting_since, now)
    return waited >= minutes * 60


async def time_out_waits(engine: AsyncEngine, now: datetime) -> int:
    """One pass over every active shop; returns how many customers were told."""
    told = 0
    for shop in await load_shops(engine):
        try:
            told += await _time_out_shop(engine, shop, now)
        except Exception:
            # One shop's trouble (a schema behind its migrations, say) never stops the rest.
            log.exception("shop %s: handoff timeouts failed", shop.slug)
    return told


async def _time_out_shop(engine: AsyncEngine, shop: Shop, now: datetime) -> int:
    settings, texts = effective(shipped_flow(shop.flow), shop.settings)
    minutes = settings.handoff_timeout_minutes
    if _has_hours(shop) and not hours.is_open(shop.business_hours, None, shop.timezone, now):
        return 0
    told = 0
    async with engine.begin() as central:
        conn = await TenantBinder.bind(central, shop.schema)
        cutoff = now - timedelta(minutes=minutes)
        rows = (await conn.execute(_WAITING, {"cutoff": cutoff, "now": now})).all()
        for row in rows:
            if not due(shop, row.waiting_since, now, minutes):
                continue
            await conn.execute(_TIMED_OUT, {"handoff_id": row.id, "now": now})
            if not row.window_open:
                # WhatsApp would refuse a free-form message: the wait is over all the same.
                log.info(
                    "shop %s: handoff #%d timed out, customer window closed", shop.slug, row.id
                )
                continue
            await queue_to_customer(
                conn,
                shop,
                row.customer_id,
                row.wa_id,
                row.bsuid,
                row.id,
                views.timeout_message(texts, shop.name),
            )
            told += 1
            HANDOFF_TIMEOUTS.inc()
    return told


async def run(
    engine: AsyncEngine,
    stop: asyncio.Event,
    clock: Callable[[], datetime],
    every_s: float = CHECK_EVERY_S,
) -> None:
    """Time out waits every `every_s` seconds until `stop` is set; never dies of an error."""
    while not stop.is_set():
        try:
            told = await time_out_waits(engine, clock())
            if told:
                log.info("handoff timeouts: %d customer(s) told nobody answered yet", told)
        except Exception:
            log.warning("handoff timeout pass failed; next try in %.0fs", every_s, exc_info=True)
        await pause(every_s, stop)


def _has_hours(shop: Shop) -> bool:
    return any(shop.business_hours.get(day) for day in hours.WEEKDAYS)
