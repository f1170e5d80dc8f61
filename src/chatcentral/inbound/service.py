"""One inbound message, handled exactly once, in one transaction in the shop's schema:
the unit of work around the pure conversation engine.

Record the message (its wamid is unique: a redelivery stops here), get or create the
customer, lock the customer's session row so their messages are handled one at a time,
let the engine decide, apply its effects, queue the replies in the outbox, commit. Only
then does the webhook answer 200.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.conversation import limits
from chatcentral.conversation.context import Context, as_context
from chatcentral.conversation.decision import Decision, decide
from chatcentral.conversation.effects import Effect, OrderPlaced, PlaceOrder
from chatcentral.conversation.effects import Outcome as EffectOutcome
from chatcentral.conversation.events import Event, event_from
from chatcentral.conversation.facts import Facts
from chatcentral.conversation.limits import Verdict, Window
from chatcentral.conversation.model import EXPIRED, NEW
from chatcentral.conversation.shop import Shop
from chatcentral.db.driver import COMMIT, driver_of
from chatcentral.inbound import effects, sessions
from chatcentral.inbound.facts_loader import FactsLoader
from chatcentral.inbound.identity import Identity
from chatcentral.inbound.staff import StaffService
from chatcentral.incidents.journal import Incidents
from chatcentral.notifications.notify import KIND as NOTIFICATION
from chatcentral.notifications.notify import admin_recipients
from chatcentral.outbox import enqueue
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.payloads import InboundMessage

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    STALE = "stale"  # older than what the session already handled: recorded, state kept
    LIMITED = "limited"  # past the customer's rate or the plan's quota: a notice or nothing


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConversationService:
    def __init__(
        self,
        *,
        mark_read: bool = True,
        loader: FactsLoader | None = None,
        clock: Clock = utc_now,
        incidents: Incidents | None = None,
    ) -> None:
        self._mark_read = mark_read
        self._incidents = incidents
        self._loader = loader or FactsLoader()
        self._clock = clock
        self._staff = StaffService()

    async def handle(
        self,
        tenant_engine: AsyncEngine,
        shop: Shop,
        identity: Identity,
        message: InboundMessage,
        raw: dict[str, Any],
    ) -> Outcome:
        """Handle one message in its own transaction; idempotent on the wamid."""
        sent_at = datetime.fromtimestamp(message.timestamp, tz=UTC)
        now = self._clock()
        month = _month_of(shop, now)
        async with tenant_engine.connect() as conn:
            transaction = await conn.begin()
            pg = await driver_of(conn)
            opened = await sessions.open_message(
                pg,
                shop.schema,
                wa_id=identity.wa_id,
                bsuid=identity.bsuid,
                name=identity.name,
                wamid=message.id,
                type_=message.type,
                body=raw,
                sent_at=sent_at,
                tenant_id=shop.id,
                month=month,
            )
            customer_id, message_id, session, used = opened
            if customer_id is None:  # first contact: the customer row is made first
                customer_id = await sessions.touch_customer(
                    conn, identity.wa_id, identity.bsuid, identity.name
                )
                message_id = await sessions.record_inbound(
                    conn, customer_id, message.id, message.type, raw, sent_at
                )
            if message_id is None:
                # A redelivery wrote nothing: commit, not roll back (a rollback would make
                # psycopg drop every statement it prepared on this connection).
                await transaction.commit()
                return Outcome.DUPLICATE
            if identity.wa_id is not None and identity.wa_id in shop.admin_ids:
                # The shop's own admins get the admin side, never the customer flow
                # (unless they asked to see it as a customer).
                answers = await self._staff.handle(conn, shop, identity.wa_id, message)
                if answers is not None:
                    async with pg.pipeline():
                        await self._queue(pg, shop, customer_id, identity, answers, message)
                        await pg.execute(COMMIT)
                    await transaction.commit()
                    return Outcome.HANDLED
            if session is None:
                session = await sessions.lock_session(conn, customer_id)
            if session.last_message_at is not None and sent_at < session.last_message_at:
                await sessions.mark_stale(conn, message_id)
                await transaction.commit()
                return Outcome.STALE
            # Counted by when the customer sent them (WhatsApp's timestamps): a backlog
            # delivered at once after an outage is not a flood. Taps on the bot's own
            # buttons and lists are answers to its questions, never counted: a customer
            # going quickly through an order is not slowed down.
            window, verdict = session.window, Verdict.ANSWER
            if message.type not in limits.TAPS:
                rate = limits.per_minute(shop)
                window, verdict = limits.count_message(session.window, sent_at, rate)
            if verdict is not Verdict.ANSWER or limits.over_quota(shop, used):
                held = _Held(session.id, sent_at, window, month)
                await self._hold_back(conn, pg, shop, customer_id, identity, message, verdict, held)
                await transaction.commit()
                return Outcome.LIMITED
            state, context = _current(session, now)
            turn = _Turn(self._loader, pg, shop, customer_id, now)
            decision = await turn.decide(state, context, event_from(message))
            replies = list(decision.replies)
            for effect in decision.effects:
                outcome = await self._apply(conn, shop, customer_id, effect, message.id)
                if outcome is not None:
                    decision = await turn.decide(decision.state, decision.context, outcome)
                    replies.extend(decision.replies)
            # The replies, the session and the COMMIT in one round trip.
            async with pg.pipeline():
                await self._queue(pg, shop, customer_id, identity, replies, message)
                await sessions.save_session(
                    pg,
                    shop.schema,
                    session.id,
                    decision.state,
                    decision.context,
                    sent_at,
                    timedelta(minutes=decision.session_minutes),
                    window,
                )
                await sessions.count_message(pg, shop.id, month)
                await pg.execute(COMMIT)
            await transaction.commit()  # the driver committed: this only closes the books
        return Outcome.HANDLED

    async def _apply(
        self, conn: AsyncConnection, shop: Shop, customer_id: int, effect: Effect, wamid: str
    ) -> EffectOutcome | None:
        """Apply one effect; an order that could not be created is an incident for the
        operator (and one placed ends it)."""
        incidents, key = self._incidents, f"order:{shop.slug}"
        try:
            outcome = await effects.apply(conn, shop, customer_id, effect, wamid)
        except Exception as exc:
            if incidents is not None and isinstance(effect, PlaceOrder):
                summary = f"shop {shop.slug}: an order could not be created ({type(exc).__name__})"
                await incidents.trouble(key, "order", summary, tenant_id=shop.id)
            raise
        if incidents is not None and isinstance(outcome, OrderPlaced) and incidents.is_open(key):
            await incidents.recovered(key, f"shop {shop.slug}: orders are created again")
        return outcome

    async def _hold_back(
        self,
        conn: AsyncConnection,
        pg: psycopg.AsyncConnection[Any],
        shop: Shop,
        customer_id: int,
        identity: Identity,
        message: InboundMessage,
        verdict: Verdict,
        held: _Held,
    ) -> None:
        """A message the limits keep from the flow: stored (it already is), counted, and
        answered with one short notice or not at all."""
        replies: list[dict[str, Any]] = []
        if verdict is Verdict.NOTICE:
            replies.append(limits.notice(shop, "limits.slow_down"))
        elif verdict is Verdict.ANSWER:  # over the plan's quota
            replies.append(limits.notice(shop, "limits.unavailable"))
            if await sessions.notice_once(pg, shop.schema, "message_quota", held.month.isoformat()):
                await _tell_admins(conn, shop, limits.notice(shop, "limits.staff_quota"))
                log.warning("shop %s: monthly message quota of its plan reached", shop.slug)
        async with pg.pipeline():
            if replies:
                await self._queue(pg, shop, customer_id, identity, replies, message)
            await sessions.save_window(pg, shop.schema, held.session_id, held.sent_at, held.window)
            await sessions.count_message(pg, shop.id, held.month)
            await pg.execute(COMMIT)

    async def _queue(
        self,
        pg: psycopg.AsyncConnection[Any],
        shop: Shop,
        customer_id: int,
        identity: Identity,
        replies: list[dict[str, Any]],
        message: InboundMessage,
    ) -> None:
        """Queue the replies; the last one carries the mark-read of the message they answer
        (sent by the dispatcher right after that reply is accepted, with no outbox row of
        its own: never before the replies, and never if the reply fails for good)."""
        calls = [(reply, outbound.envelope(reply, **identity.address)) for reply in replies]
        await enqueue.queue_replies(
            pg,
            shop.schema,
            shop.id,
            customer_id,
            identity.recipient_key,
            calls,
            mark_read_wamid=message.id if self._mark_read else None,
        )


@dataclass(frozen=True)
class _Held:
    session_id: int
    sent_at: datetime
    window: Window
    month: date


def _month_of(shop: Shop, now: datetime) -> date:
    """The first day of the shop's current month, in its time zone (plans count by it)."""
    try:
        local = now.astimezone(ZoneInfo(shop.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    return local.date().replace(day=1)


async def _tell_admins(conn: AsyncConnection, shop: Shop, news: dict[str, Any]) -> None:
    """Queue a short text for each of the shop's admins (undelivered outside their 24-hour
    window: then counted, and told on their next message)."""
    for key, phone in admin_recipients(shop).items():
        payload = outbound.envelope(news, to=phone)
        await enqueue.queue_message(conn, shop.id, NOTIFICATION, key, news, payload)


class _Turn:
    """Decisions for one message, loading the facts each one asks for."""

    def __init__(
        self,
        loader: FactsLoader,
        pg: psycopg.AsyncConnection[Any],
        shop: Shop,
        customer_id: int,
        now: datetime,
    ) -> None:
        self._loader = loader
        self._pg = pg
        self._shop = shop
        self._customer_id = customer_id
        self._facts = Facts(now=now)
        loader.prime(shop.schema, self._facts)

    async def decide(self, state: str, context: Context, event: Event | EffectOutcome) -> Decision:
        for _ in range(4):  # catalog, customer, orders: at most one load each
            decision = decide(self._shop, state, context, event, self._facts)
            if not decision.needs:
                return decision
            await self._loader.load(
                self._pg, self._shop.schema, self._customer_id, self._facts, decision.needs
            )
        raise RuntimeError(f"engine kept asking for facts: {sorted(decision.needs)}")


def _current(session: sessions.SessionRow, now: datetime) -> tuple[str, Context]:
    """State and context to decide from; an idle session is handed over as `expired`."""
    context = as_context(session.context)
    expired = session.expires_at is not None and session.expires_at < now
    if expired and session.state != NEW:
        return EXPIRED, Context(previous_state=session.state, previous=context)
    return session.state, context
