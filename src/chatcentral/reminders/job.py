"""Refill reminders: find the customers due one (`policy.py`), queue the template.

`run_once` walks the active shops whose flow has a "¿Lo de siempre?" path and whose
settings leave `refill_reminders` on, skips those closed now (business hours and
holidays), and for each of the others, in one transaction in the shop's schema:

1. takes a transaction-level advisory lock for the shop (another process running the
   same tick skips the shop instead of waiting for it);
2. reads each customer's recent orders and decides (`policy.verdict`);
3. locks the due customers' rows with FOR UPDATE SKIP LOCKED (a customer whose message
   is being handled right now waits for the next tick), checks nothing changed since
   (opt-out, another reminder), stamps `last_reminded_at` and queues the
   `recordatorio_recarga` template in `central.outbox` beside a message row — the
   stamp and the send commit together or not at all.

`ReminderJob` runs it every few minutes where the outbox dispatcher runs
(`bootstrap.services`); `chatcentral reminders SLUG --dry-run` shows the decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral import metrics
from chatcentral.conversation import cart, hours
from chatcentral.conversation.flow import FlowError, FlowSpec, effective, shipped_flow
from chatcentral.conversation.machine import OFFERING_USUAL, REPEAT_USUAL, STOP_REMINDERS
from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import TenantBinder
from chatcentral.inbound.identity import Identity
from chatcentral.models.tenant import Customer, Order, OrderItem, OrderStatus, StatusCode
from chatcentral.notifications.templates import for_shop
from chatcentral.outbox import enqueue
from chatcentral.reminders.policy import (
    IN_PROGRESS_WINDOW,
    RECENT_ORDERS,
    History,
    Verdict,
    verdict,
)
from chatcentral.tenancy.directory import load_shops
from chatcentral.whatsapp import outbound

log = logging.getLogger(__name__)

REMINDERS = "reminders"  # the plan feature

TEMPLATE = "recordatorio_recarga"
# Both numbers of the shop's advisory lock: this job's, then the shop's id.
_LOCK_CLASS = 0x7265_6D69  # "remi"
_NO_NAME = "de nuevo"  # "Hola de nuevo 👋" when WhatsApp gave no profile name


@dataclass(frozen=True)
class Candidate:
    customer_id: int
    wa_id: str | None
    bsuid: str | None
    name: str | None
    history: History
    last_order_id: int | None
    verdict: Verdict
    seen_reminded_at: datetime | None  # as read, to notice a change before sending

    @property
    def who(self) -> str:
        return ("+" + self.wa_id) if self.wa_id else (self.bsuid or f"customer {self.customer_id}")


@dataclass
class ShopReport:
    slug: str
    enabled: bool
    open: bool
    next_opening: datetime | None = None
    busy: bool = False  # another process held the shop's lock
    looked: bool = False  # its customers were read (not skipped: closed, off, busy)
    candidates: list[Candidate] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)  # customer ids reminded

    @property
    def due(self) -> list[Candidate]:
        return [c for c in self.candidates if c.verdict.due]


# --- which shops ---------------------------------------------------------------------------


def reminders_enabled(shop: Shop) -> bool:
    """The shop's plan includes reminders, its flow has the repeat-order path and its
    settings leave reminders on."""
    if not shop.includes(REMINDERS):
        return False
    flow = _flow(shop)
    if flow is None or not any(state.name == OFFERING_USUAL for state in flow.states):
        return False
    settings, _ = effective(flow, shop.settings)
    return settings.refill_reminders


def _flow(shop: Shop) -> FlowSpec | None:
    try:
        return shipped_flow(shop.flow)
    except FlowError:  # a flow file removed or broken: no reminders, the rest goes on
        log.warning("shop %s: flow %r cannot be loaded; no reminders", shop.slug, shop.flow)
        return None


# --- one shop ------------------------------------------------------------------------------


async def remind_shop(
    engine: AsyncEngine, shop: Shop, now: datetime, *, dry_run: bool = False
) -> ShopReport:
    """Decide (and unless `dry_run`, send) this shop's reminders, in one transaction."""
    is_open = hours.is_open(shop.business_hours, None, shop.timezone, now)
    report = ShopReport(shop.slug, reminders_enabled(shop), is_open)
    if not is_open:
        report.next_opening = hours.next_opening(shop.business_hours, None, shop.timezone, now)
    if not dry_run and not (report.enabled and report.open and shop.active):
        return report
    async with engine.connect() as raw:
        conn = await TenantBinder.bind(raw, shop.schema)
        async with conn.begin():
            if not dry_run:
                locked = await conn.scalar(
                    select(
                        func.pg_try_advisory_xact_lock(
                            literal(_LOCK_CLASS, Integer), literal(shop.id, Integer)
                        )
                    )
                )
                if not locked:
                    report.busy = True
                    return report
            zone = ZoneInfo(shop.timezone)
            report.candidates = await _candidates(conn, now, zone, at_least=1 if dry_run else 2)
            report.looked = True
            if dry_run:
                return report
            for candidate in await _claim(conn, report.due):
                await _send(conn, shop, candidate, now)
                report.sent.append(candidate.customer_id)
    if report.sent:
        metrics.REMINDERS_SENT.inc(len(report.sent))
        log.info("shop %s: %d refill reminder(s) queued", shop.slug, len(report.sent))
    return report


_not_cancelled = OrderStatus.code != StatusCode.CANCELLED.value


async def _candidates(
    conn: AsyncConnection, now: datetime, zone: tzinfo, *, at_least: int
) -> list[Candidate]:
    """Customers with at least `at_least` orders that were not cancelled, and the verdict
    on each."""
    counted = func.count(Order.id).filter(_not_cancelled)
    in_progress = func.bool_or(
        and_(
            _not_cancelled,
            OrderStatus.is_final.is_(False),
            Order.created_at > now - IN_PROGRESS_WINDOW,
        )
    )
    query = (
        select(
            Customer.id,
            Customer.wa_id,
            Customer.bsuid,
            Customer.name,
            Customer.last_reminded_at,
            Customer.reminders_opt_out,
            in_progress.label("in_progress"),
        )
        .join(Order, Order.customer_id == Customer.id)
        .join(OrderStatus, OrderStatus.id == Order.status_id)
        .group_by(Customer.id)
        .having(counted >= at_least)
        .order_by(Customer.id)
    )
    if at_least >= 2:
        query = query.where(Customer.reminders_opt_out.is_(False))
    customers = (await conn.execute(query)).all()
    if not customers:
        return []
    recent = await _recent_orders(conn, [row.id for row in customers])
    found = []
    for row in customers:
        orders = recent.get(row.id, [])
        history = History(
            order_times=tuple(created for _, created in orders),
            last_reminded_at=row.last_reminded_at,
            opted_out=row.reminders_opt_out,
            order_in_progress=bool(row.in_progress),
        )
        found.append(
            Candidate(
                customer_id=row.id,
                wa_id=row.wa_id,
                bsuid=row.bsuid,
                name=row.name,
                history=history,
                last_order_id=orders[0][0] if orders else None,
                verdict=verdict(history, now, zone),
                seen_reminded_at=row.last_reminded_at,
            )
        )
    return found


async def _recent_orders(
    conn: AsyncConnection, customer_ids: Sequence[int]
) -> dict[int, list[tuple[int, datetime]]]:
    """Each customer's latest RECENT_ORDERS orders that were not cancelled, newest first."""
    rank = (
        func.row_number()
        .over(partition_by=Order.customer_id, order_by=Order.id.desc())
        .label("rank")
    )
    ranked = (
        select(Order.customer_id, Order.id, Order.created_at, rank)
        .join(OrderStatus, OrderStatus.id == Order.status_id)
        .where(_not_cancelled, Order.customer_id.in_(customer_ids))
        .subquery()
    )
    rows = await conn.execute(
        select(ranked.c.customer_id, ranked.c.id, ranked.c.created_at)
        .where(ranked.c.rank <= RECENT_ORDERS)
        .order_by(ranked.c.customer_id, ranked.c.id.desc())
    )
    orders: dict[int, list[tuple[int, datetime]]] = {}
    for customer_id, order_id, created_at in rows:
        orders.setdefault(customer_id, []).append((order_id, created_at))
    return orders


async def _claim(conn: AsyncConnection, due: Sequence[Candidate]) -> list[Candidate]:
    """The due customers whose rows could be locked now and did not change since read."""
    if not due:
        return []
    rows = await conn.execute(
        select(Customer.id, Customer.last_reminded_at, Customer.reminders_opt_out)
        .where(Customer.id.in_([c.customer_id for c in due]))
        .order_by(Customer.id)
        .with_for_update(skip_locked=True)
    )
    current = {row.id: row for row in rows}
    claimed = []
    for candidate in due:
        row = current.get(candidate.customer_id)
        if row is None:
            continue  # locked by a message being handled: next tick
        if row.reminders_opt_out or row.last_reminded_at != candidate.seen_reminded_at:
            continue  # opted out or reminded since it was read
        claimed.append(candidate)
    return claimed


async def _send(conn: AsyncConnection, shop: Shop, candidate: Candidate, now: datetime) -> None:
    settings, _ = effective(shipped_flow(shop.flow), shop.settings)
    spec = for_shop(TEMPLATE, settings.templates)
    usual = await _order_line(conn, candidate.last_order_id)
    first_name = (candidate.name or "").strip().split(" ")[0] or _NO_NAME
    message = spec.message(
        [_one_line(first_name, 60), _one_line(usual, 300)], [REPEAT_USUAL, STOP_REMINDERS]
    )
    identity = Identity(wa_id=candidate.wa_id, bsuid=candidate.bsuid, name=candidate.name)
    await conn.execute(
        update(Customer).where(Customer.id == candidate.customer_id).values(last_reminded_at=now)
    )
    await enqueue.queue_message(
        conn,
        shop.id,
        "message",
        identity.recipient_key,
        message,
        outbound.envelope(message, **identity.address),
        customer_id=candidate.customer_id,
    )


async def _order_line(conn: AsyncConnection, order_id: int | None) -> str:
    """The order's items on one line: "2 garrafones Garrafón 20 L (recarga)"."""
    if order_id is None:
        return "tu pedido de siempre"
    rows = await conn.execute(
        select(OrderItem.quantity, OrderItem.unit, OrderItem.product_name)
        .where(OrderItem.order_id == order_id)
        .order_by(OrderItem.id)
    )
    parts = [f"{cart.quantity_label(q, str(unit))} {name}" for q, unit, name in rows]
    return ", ".join(parts) or "tu pedido de siempre"


def _one_line(text: str, limit: int) -> str:
    """A template parameter: no line breaks or tabs, no runs of spaces, not too long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- every shop, on a schedule -------------------------------------------------------------


async def run_once(engine: AsyncEngine, now: datetime) -> list[ShopReport]:
    """One pass over every shop with reminders on; a shop that fails is logged and
    skipped, the others go on."""
    reports = []
    for shop in await load_shops(engine):
        if not reminders_enabled(shop):
            continue
        try:
            reports.append(await remind_shop(engine, shop, now))
        except Exception:
            metrics.REMINDER_ERRORS.inc()
            log.exception("shop %s: refill reminders failed this pass", shop.slug)
    return reports


class ReminderJob:
    """`run_once` every `interval` seconds until stopped; never dies of a failed pass."""

    def __init__(self, engine: AsyncEngine, interval: float, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._interval = interval
        self._clock = clock

    def start(self, stop: asyncio.Event) -> asyncio.Task[Any]:
        return asyncio.create_task(self._loop(stop), name="refill-reminders")

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await run_once(self._engine, self._clock())
            except Exception:
                metrics.REMINDER_ERRORS.inc()
                log.exception("refill reminders: pass failed; next in %.0f s", self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)


def describe(report: ShopReport) -> list[str]:
    """The dry run's lines: one per customer with orders, who would be reminded and why."""
    lines = []
    if not report.enabled:
        lines.append(f"{report.slug}: refill reminders are off for this shop (flow or settings)")
    if not report.open:
        opening = (
            f"{report.next_opening:%Y-%m-%d %H:%M}" if report.next_opening else "never (no hours)"
        )
        lines.append(f"{report.slug}: closed now; nothing is sent before it opens ({opening})")
    for c in report.candidates:
        mark = "REMIND" if c.verdict.due and report.enabled and report.open else "skip  "
        interval = f"every {_days(c.verdict.interval)}" if c.verdict.interval else "—"
        lines.append(
            f"{mark} {c.who:<18} {(c.name or '-'):<20} "
            f"{len(c.history.order_times)} orders  {interval:<14} {c.verdict.reason}"
        )
    if report.looked and not report.candidates:
        lines.append(f"{report.slug}: no customer is due (none has the orders needed)")
    return lines


def _days(interval: timedelta) -> str:
    days = interval.total_seconds() / 86400
    return f"{days:.1f} d" if days % 1 else f"{int(days)} d"


__all__ = [
    "Candidate",
    "ReminderJob",
    "ShopReport",
    "describe",
    "remind_shop",
    "reminders_enabled",
    "run_once",
]
