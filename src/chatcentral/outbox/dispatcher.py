"""The outbox dispatcher: sends what the conversation service queued, in order, once.

`run` is a pipeline of up to `batch_size` sends in flight (CHATCENTRAL_SEND_CONCURRENCY):
it claims due rows in a short transaction that leases them (`due_at = now() + lease`)
and commits, starts each send, and claims more as sends end; each outcome is recorded in
its own short transaction as soon as it is known (successes that end together share one:
`recorder.py`), so a slow call holds up nobody else.
Each business number is paced at its Meta throughput tier (`Pacer`: 80 messages/s, or
the shop's `throughput_mps` setting) and holds at most its share of the pipeline, so one
busy shop never starves the others. The last reply to a customer's message carries its
mark-read, sent right after Meta accepts that reply (no outbox row of its own).

No transaction is open during an HTTP call, so a dispatcher killed repeats at most the
calls in flight: their rows are still pending and come back when the lease runs out
(nothing is lost; at worst a message Meta had accepted goes out again, with its
mark-read). A row is only eligible when no older row for the same (shop, recipient) is
still pending, and a leased row stays pending: a customer's second
reply never overtakes the first, even across dispatchers, while other customers go on.
The lease is also the fence: an outcome is written only while the row is pending under
the lease that sent it, so a result that arrives late never overwrites a newer one.

`run` does not die: every database step is inside its recovery path and is retried after
a short, capped pause (0.5 s doubling to 5 s) while the database is away.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral.config import ConfigError, Settings
from chatcentral.db.engine import TenantBinder, autocommit
from chatcentral.db.errors import database_trouble
from chatcentral.incidents.journal import Incidents
from chatcentral.media.store import Store
from chatcentral.metrics import (
    DISPATCHER_ERRORS,
    MARK_READ_FAILED,
    NOTIFICATIONS_FAILED,
    OUTBOX_FAILED,
    OUTBOX_RETRIES,
    OUTBOX_SEND_SECONDS,
    OUTBOX_SENT,
    OUTBOX_TEMPLATE_FALLBACKS,
    SENDS,
)
from chatcentral.notifications import delivery
from chatcentral.notifications.notify import KIND as NOTIFICATION
from chatcentral.outbox import sql
from chatcentral.outbox.alerts import FailureHook, SentHook, audit_failure, notify_shop_admins
from chatcentral.outbox.media import RELAY_MEDIA, MediaRelay
from chatcentral.outbox.pacing import Backoff, Pacer, pause
from chatcentral.outbox.recorder import AcceptedRecorder
from chatcentral.outbox.rows import Claimed, Outcome
from chatcentral.outgoing import delivery as outgoing
from chatcentral.outgoing.delivery import WebhookSender
from chatcentral.outgoing.events import KIND as WEBHOOK
from chatcentral.products.photos import send_link
from chatcentral.tenancy.secrets import token_for
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.graph import (
    TOKEN_REJECTED,
    WINDOW_CLOSED,
    GraphClient,
    SendFailure,
    SendResult,
    Verdict,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
RETRY_BASE_S = 2.0
RETRY_CAP_S = 300.0
PAIR_BACKOFF_CAP_S = 600.0
# How long a claimed row belongs to the dispatcher that claimed it. Sends are cut off at
# half of it, so a live dispatcher always records before another may take the row over.
LEASE_S = 60.0
# Tries at recording a result in full before recording the outbox row alone.
FULL_RECORD_ATTEMPTS = 3
# A number may hold at most one second of its pace in flight (claimed, waiting for its turn
# or sending, its mark-read included), and at most half the dispatcher's sends: one busy
# shop never starves others. Less than a second would keep a number under its tier with
# Meta's 0.15-0.4 s per call plus the mark-read that follows a reply.
PACE_AHEAD_S = 1.0
# The mark-read after a reply: best effort, quick (whatsapp-cloud-api.md §7). At most
# 4 x 5 s + 3.5 s of pauses: with the send's deadline (half the lease) it ends in the lease.
MARK_READ_TIMEOUT_S = 5.0
MARK_READ_TRIES = 4  # pauses of 0.5, 1 and 2 s between them
MARK_READ_RETRY_S = 0.5

PURGE_EVERY_S = 3600.0


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        graph: GraphClient,
        settings: Settings,
        *,
        batch_size: int = 32,
        lease_s: float = LEASE_S,
        failure_hooks: list[FailureHook] | None = None,
        sent_hooks: list[SentHook] | None = None,
        incidents: Incidents | None = None,
        webhooks: WebhookSender | None = None,
        store: Store | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        # Claims and the next-due look are one statement each: one round trip instead of
        # three, and in a busy event loop every round trip is a turn of the loop between a
        # reply's commit and its send.
        self._single = autocommit(engine)
        self._graph = graph
        self._settings = settings
        self._batch_size = batch_size
        self._lease_s = lease_s
        self._send_deadline_s = lease_s / 2
        self._hooks = (
            failure_hooks
            if failure_hooks is not None
            else [
                audit_failure,
                notify_shop_admins,
                delivery.count_undelivered,
                outgoing.record_failed,
            ]
        )
        self._sent_hooks = (
            sent_hooks
            if sent_hooks is not None
            else [delivery.count_sent, outgoing.record_delivered]
        )
        self._webhooks = webhooks or WebhookSender()
        self._accepted = AcceptedRecorder(engine, self._sent_hooks)
        self._incidents = incidents
        self._failing: dict[int, int] = {}  # shop → sends failed in a row (passing trouble)
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._media = MediaRelay(graph)
        self._store = store  # product photos, linked at send time
        self._pacer = Pacer()
        self._flying: dict[asyncio.Task[None], tuple[int, int]] = {}  # (shop, its cap)

    async def aclose(self) -> None:
        await self._webhooks.aclose()

    def wake(self, _payload: str = "") -> None:
        """Called on NOTIFY: new rows are waiting."""
        self._wake.set()

    async def purge(self) -> int:
        """Delete sent and cancelled calls older than the retention; return how many."""
        deleted = 0
        while True:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    sql.PURGE, {"days": self._settings.chatcentral_outbox_retention_days}
                )
            deleted += result.rowcount
            if result.rowcount < 5000:
                return deleted

    async def run(self, stop: asyncio.Event, *, idle_wait: float = 5.0) -> None:
        """Dispatch until `stop` is set: a pipeline of up to `batch_size` sends in flight,
        claiming more as sends end (each wakes the loop), each outcome recorded as it is
        known; asleep while nothing is due until woken (NOTIFY, a send ending) or a row is.

        Returns only once `stop` is set (after the sends in flight end) and raises only if
        cancelled (the sends in flight are cancelled with it; their rows wait out their
        lease): any failure of a step (the database away, a bug) is logged and the step
        retried after a pause.
        """
        next_purge = time.monotonic()
        trouble = Backoff()
        try:
            while not stop.is_set():
                # Cleared before looking, so a NOTIFY that arrives while we look still wakes us.
                self._wake.clear()
                try:
                    if time.monotonic() >= next_purge:
                        next_purge = time.monotonic() + PURGE_EVERY_S
                        await self._purge_logged()
                    free = self._batch_size - len(self._flying)
                    claimed, shop_at_share = (
                        await self._claim_into_flight(free) if free > 0 else (0, False)
                    )
                    if free > 0 and claimed == free:
                        wait = 0.0  # maybe more is due: look again at once
                    elif len(self._flying) >= self._batch_size or shop_at_share:
                        # A send ending wakes us (slots free, and rows of a shop at its
                        # share due again); so does NOTIFY.
                        wait = idle_wait
                    else:
                        wait = await self._seconds_until_due(idle_wait)
                    trouble.reset()
                except Exception as exc:
                    DISPATCHER_ERRORS.inc()
                    wait = trouble.next()
                    log.warning(
                        "outbox dispatch round failed (%s: %s); retrying in %.1fs",
                        type(exc).__name__,
                        exc,
                        wait,
                        # One traceback per streak: an outage of minutes is one story.
                        exc_info=trouble.failures == 1,
                    )
                if wait > 0:
                    await pause(wait, stop, self._wake)
            if self._flying:
                await asyncio.gather(*self._flying, return_exceptions=True)
        finally:
            for task in self._flying:
                task.cancel()

    async def _claim_into_flight(self, free: int) -> tuple[int, bool]:
        """Claim up to `free` rows and start sending each, no shop beyond its share of the
        pipeline (shops already at it are not asked for; rows of a shop that reaches it
        within this claim go back to the queue, due at once, in their place); return how
        many rows were claimed and whether any shop is at its share now."""
        held: dict[int, int] = {}
        full: list[int] = []
        for tenant_id, cap in self._flying.values():
            held[tenant_id] = held.get(tenant_id, 0) + 1
            if held[tenant_id] == cap:
                full.append(tenant_id)
        rows = await self._claim(free, full)
        lease_ends = time.monotonic() + self._lease_s
        back: list[Claimed] = []
        for row in rows:
            cap = self._cap(row)
            if held.get(row.tenant_id, 0) >= cap:
                back.append(row)
                continue
            held[row.tenant_id] = held.get(row.tenant_id, 0) + 1
            task = asyncio.create_task(self._deliver(row, lease_ends))
            self._flying[task] = (row.tenant_id, cap)
            task.add_done_callback(self._landed)
        if back:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sql.RELEASE,
                    [{"id": row.id, "lease": row.leased_until, "delay": 0.0} for row in back],
                )
        return len(rows), bool(full or back)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._flying.pop(task, None)
        self._wake.set()  # a slot is free, and the customer's next row may be due

    def _cap(self, row: Claimed) -> int:
        """How many sends of this row's number may be in the pipeline at once."""
        return max(1, min(math.ceil(row.mps * PACE_AHEAD_S), self._batch_size // 2))

    async def _claim(self, limit: int, full: list[int]) -> list[Claimed]:
        async with self._single.connect() as conn:
            claimed = (
                await conn.execute(
                    sql.CLAIM, {"limit": limit, "lease": self._lease_s, "full": full}
                )
            ).all()
        return sorted((Claimed(*values) for values in claimed), key=lambda r: r.id)

    async def dispatch_once(self) -> int:
        """Claim (lease) one batch and send it concurrently, recording each outcome as soon
        as it is known; return how many rows were claimed (tests and tools; `run` is the
        pipeline)."""
        rows = await self._claim(self._batch_size, [])
        if not rows:
            return 0
        lease_ends = time.monotonic() + self._lease_s
        # A TaskGroup, so nothing outlives a cancelled round (its rows wait out their lease).
        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(self._deliver(row, lease_ends))
        return len(rows)

    async def _deliver(self, row: Claimed, lease_ends: float) -> None:
        """Wait for the number's pace, send one row and record its outcome; never raises
        (but can be cancelled)."""
        if row.kind != WEBHOOK:  # a shop's own endpoint is not paced by Meta's tier
            wait = self._pacer.book(row.phone_number_id, row.mps)
            if wait > 0:
                if time.monotonic() + wait + self._send_deadline_s >= lease_ends:
                    await self._release(row, wait)
                    return
                await asyncio.sleep(wait)
            # Woken late together with others (a busy loop): no burst above the tier.
            while (late := self._pacer.admit(row.phone_number_id, row.mps)) > 0:  # noqa: ASYNC110
                await asyncio.sleep(late)
        result = await self._send(row)
        outcome = self._decide(row, result)
        await self._watch(row, result.failure)
        await self._record_outcome(row, outcome, lease_ends)
        if result.failure is None and row.mark_read_wamid is not None:
            # Only once its reply is recorded: a crash in between loses a mark-read (grey
            # ticks), never sends the reply twice. The customer's next reply, due now,
            # need not wait for it. Its failure never touches the reply's outcome.
            self._wake.set()
            await self._mark_read(row, row.mark_read_wamid)

    async def _record_outcome(self, row: Claimed, outcome: Outcome, lease_ends: float) -> None:
        """Record a send's outcome, retried while the database is away (recording it late
        beats sending it twice) until the row's lease would end; never raises."""
        if outcome.failure is None:
            try:
                if not await self._accepted.record(row, outcome.wamid):
                    self._superseded(row)
                return
            except Exception as exc:  # noqa: BLE001 - recorded one at a time below, retried
                log.info("shop %s: outbox %d: group record failed (%s)", row.slug, row.id, exc)
        trouble = Backoff()
        refused = 0  # full records that failed with the database up
        while True:
            try:
                async with self._engine.begin() as conn:
                    if refused < FULL_RECORD_ATTEMPTS:
                        await self._record(conn, row, outcome)
                    else:
                        await self._record_bare(conn, row, outcome)
                return
            except Exception as exc:
                DISPATCHER_ERRORS.inc()
                if database_trouble(exc) is not True:
                    refused += 1
                wait = trouble.next()
                if time.monotonic() + wait >= lease_ends:
                    log.error(
                        "shop %s: outbox %d: result not recorded (%s: %s); "
                        "it will be sent again when its lease ends",
                        row.slug,
                        row.id,
                        type(exc).__name__,
                        exc,
                        exc_info=True,
                    )
                    return
                # Keep the result while the database is away: recording it later beats
                # sending the message twice.
                log.warning(
                    "shop %s: outbox %d: recording its result failed (%s); retrying in %.1fs",
                    row.slug,
                    row.id,
                    type(exc).__name__,
                    wait,
                )
                await asyncio.sleep(wait)

    async def _release(self, row: Claimed, delay: float) -> None:
        """Give back a row its number's pace would keep past its lease (a shop with a very
        low tier): due again when its turn comes; if this fails, its lease runs out."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sql.RELEASE, {"id": row.id, "lease": row.leased_until, "delay": delay}
                )
        except Exception:
            DISPATCHER_ERRORS.inc()
            log.warning("shop %s: outbox %d: not released", row.slug, row.id, exc_info=True)

    async def _mark_read(self, row: Claimed, wamid: str) -> None:
        """Mark the customer's message read now that its reply is accepted. Best effort: a
        short deadline per call, a few quick tries on a passing failure (429, 5xx, timeout),
        then given up (logged and counted); a lost mark-read only leaves grey ticks."""
        body = outbound.mark_read(wamid)
        reason = "no access token configured for shop"
        try:
            token = token_for(self._settings, row.token_encrypted)
            for attempt in range(MARK_READ_TRIES):
                if token is None:
                    break
                if attempt:
                    await asyncio.sleep(MARK_READ_RETRY_S * 2 ** (attempt - 1))
                try:
                    async with asyncio.timeout(MARK_READ_TIMEOUT_S):
                        result = await self._graph.send(row.phone_number_id, token, body)
                except TimeoutError:
                    reason = "timeout"
                    continue
                if result.failure is None:
                    OUTBOX_SENT.labels(kind="mark_read").inc()
                    return
                reason = result.failure.reason
                if result.failure.verdict is Verdict.PERMANENT:
                    break
        except Exception:  # a bad key, a bug: never the dispatcher's end
            MARK_READ_FAILED.inc()
            log.warning("shop %s: mark-read of %s not sent", row.slug, wamid, exc_info=True)
            return
        MARK_READ_FAILED.inc()
        log.warning("shop %s: mark-read of %s not sent (%s)", row.slug, wamid, reason)

    async def _send(self, row: Claimed) -> SendResult:
        if row.kind == WEBHOOK:
            try:
                async with asyncio.timeout(self._send_deadline_s):
                    return await self._webhooks.send(self._engine, self._settings, row)
            except TimeoutError:
                return SendResult(failure=SendFailure(Verdict.RETRY, "timeout"))
        try:
            token = token_for(self._settings, row.token_encrypted)
        except ConfigError as exc:
            # A wrong or rotated key is the operator's to fix: retry, do not drop the reply.
            log.error("shop %s: %s", row.slug, exc)
            return SendResult(failure=SendFailure(Verdict.RETRY, str(exc)[:300]))
        if token is None:
            return SendResult(
                failure=SendFailure(Verdict.PERMANENT, "no access token configured for shop")
            )
        try:
            with OUTBOX_SEND_SECONDS.time():
                async with asyncio.timeout(self._send_deadline_s):
                    payload = row.payload
                    if row.kind == RELAY_MEDIA:  # a customer's photo: moved to the shop first
                        prepared = await self._media.prepared(row.phone_number_id, token, payload)
                        if isinstance(prepared, SendFailure):
                            return SendResult(failure=prepared)
                        payload = prepared
                    payload = await self._photo_linked(payload)
                    return await self._graph.send(row.phone_number_id, token, payload)
        except TimeoutError:
            # httpx's timeouts are per phase; this bounds the whole call inside the lease.
            return SendResult(failure=SendFailure(Verdict.RETRY, "timeout"))
        except Exception as exc:
            log.exception("shop %s: outbox %d: send raised", row.slug, row.id)
            return SendResult(failure=SendFailure(Verdict.RETRY, f"internal: {type(exc).__name__}"))

    async def _photo_linked(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A product's photo header made a link now, valid long enough for Meta to fetch
        it (a link made at queueing could expire while the row waits); sent without the
        photo when no link can be made that Meta could reach."""
        key = outbound.stored_image(payload)
        if key is None:
            return payload
        link = await send_link(self._store, key) if self._store is not None else None
        if link is None:
            log.info("product photo %s sent without its image: no link Meta could fetch", key)
        return outbound.with_image_link(payload, link)

    async def _watch(self, row: Claimed, failure: SendFailure | None) -> None:
        """Incidents from sends: a token Meta rejects, or passing trouble (5xx, timeouts,
        throughput) that lasts CHATCENTRAL_ALERT_SEND_FAILURES sends in a row for a shop;
        a send accepted ends both."""
        incidents = self._incidents
        if incidents is None:
            return
        token, graph = f"token:{row.slug}", f"graph:{row.slug}"
        if failure is None:
            self._failing.pop(row.tenant_id, None)
            if incidents.is_open(token):
                await incidents.recovered(token, f"shop {row.slug}: its token works again")
            if incidents.is_open(graph):
                await incidents.recovered(graph, f"shop {row.slug}: sends go through again")
            return
        if failure.code == TOKEN_REJECTED or failure.http_status == 401:
            summary = f"shop {row.slug}: the Graph API rejects its access token ({failure.reason})"
            await incidents.trouble(token, "token", summary, tenant_id=row.tenant_id)
        if failure.verdict is not Verdict.RETRY:
            return
        failing = self._failing[row.tenant_id] = self._failing.get(row.tenant_id, 0) + 1
        if failing >= self._settings.chatcentral_alert_send_failures:
            summary = f"shop {row.slug}: {failing} sends failed in a row ({failure.reason})"
            await incidents.trouble(graph, "graph", summary, tenant_id=row.tenant_id)

    def _decide(self, row: Claimed, result: SendResult) -> Outcome:
        if result.failure is None:
            OUTBOX_SENT.labels(kind=row.kind).inc()
            SENDS.labels(outcome="accepted", code="none").inc()
            return Outcome(wamid=result.wamid)
        failure = result.failure
        code = str(failure.code or failure.http_status or "network")
        if failure.code == WINDOW_CLOSED and row.fallback is not None:
            OUTBOX_TEMPLATE_FALLBACKS.labels(kind=row.kind).inc()
            SENDS.labels(outcome="fallback", code=code).inc()
            log.info(
                "shop %s: outbox %d (%s) to %s refused, 24-hour window closed (131047); "
                "sending its template instead",
                row.slug,
                row.id,
                row.kind,
                row.recipient,
            )
            return Outcome(failure=failure, fallback=True)
        attempts = row.attempts + 1
        if failure.verdict is Verdict.PERMANENT or attempts >= MAX_ATTEMPTS:
            code = str(failure.code or failure.http_status or "none")
            OUTBOX_FAILED.labels(code=code).inc()
            SENDS.labels(outcome="failed", code=code).inc()
            if row.kind == NOTIFICATION:
                NOTIFICATIONS_FAILED.labels(code=code).inc()
            log.error(
                "shop %s: outbox %d (%s) failed for good after %d attempt(s): code %s, %s",
                row.slug,
                row.id,
                row.kind,
                attempts,
                failure.code,
                failure.reason,
            )
            return Outcome(failure=failure)
        delay = self._backoff(failure, attempts)
        OUTBOX_RETRIES.labels(reason=code).inc()
        SENDS.labels(outcome="retry", code=code).inc()
        log.info(
            "shop %s: outbox %d retry %d in %.1fs (%s)",
            row.slug,
            row.id,
            attempts,
            delay,
            failure.reason,
        )
        return Outcome(failure=failure, retry_in=delay)

    async def _record(self, conn: AsyncConnection, row: Claimed, outcome: Outcome) -> None:
        fence = {"id": row.id, "lease": row.leased_until}
        failure = outcome.failure
        if failure is None:
            if row.id not in await self._accepted.write(conn, [(row, outcome.wamid)]):
                self._superseded(row)
            return
        details = {**fence, "error": failure.reason, "code": failure.code}
        if outcome.fallback:
            if (await conn.execute(sql.SWAP_FALLBACK, details)).first() is None:
                self._superseded(row)
                return
            await self._message_replaced(conn, row)
            self._wake.set()  # due now: the next round sends it
            return
        if outcome.retry_in is not None:
            if (await conn.execute(sql.MARK_RETRY, {**details, "delay": outcome.retry_in})).first():
                return
            self._superseded(row)
            return
        if (await conn.execute(sql.MARK_FAILED, details)).first() is None:
            self._superseded(row)
            return
        if row.message_id is not None:
            tenant_conn = await TenantBinder.bind(conn, row.schema)
            await tenant_conn.execute(
                sql.MESSAGE_FAILED, {"out_id": row.message_id, "out_code": failure.code}
            )
        if row.kind == "message" and row.mark_read_wamid is None:
            # The customer's message was not answered: do not show them blue ticks for it
            # (a row carrying its own mark-read just never sends it).
            await conn.execute(sql.DROP_NEXT_MARK_READ, {"id": row.id})
        for hook in self._hooks:
            await hook(conn, row, failure)

    async def _record_bare(self, conn: AsyncConnection, row: Claimed, outcome: Outcome) -> None:
        """The outbox row alone, when the whole record keeps failing with the database up
        (a bug in a hook, a message row that cannot take the update): without it the row
        would be sent again at every lease's end, for ever."""
        fence = {"id": row.id, "lease": row.leased_until}
        failure = outcome.failure
        if failure is None:
            await conn.execute(sql.MARK_SENT, fence)
        else:
            details = {**fence, "error": failure.reason, "code": failure.code}
            await conn.execute(sql.MARK_FAILED, details)
        log.error(
            "shop %s: outbox %d recorded as %s without its side effects (message row, alerts)",
            row.slug,
            row.id,
            "sent" if failure is None else "failed",
        )

    async def _message_replaced(self, conn: AsyncConnection, row: Claimed) -> None:
        """The message row now records what is sent instead (the template)."""
        if row.message_id is None or row.fallback is None:
            return
        message = outbound.message_of(row.fallback)
        tenant_conn = await TenantBinder.bind(conn, row.schema)
        await tenant_conn.execute(
            sql.MESSAGE_REPLACED,
            {
                "out_id": row.message_id,
                "out_type": str(message.get("type", "unknown")),
                "out_body": message,
            },
        )

    @staticmethod
    def _superseded(row: Claimed) -> None:
        # The row is no longer pending under our lease: our lease ran out and another
        # dispatcher took it over (its outcome counts), or an earlier try of this very write
        # committed and only the answer was lost.
        log.warning("shop %s: outbox %d: result already recorded or superseded", row.slug, row.id)

    def _backoff(self, failure: SendFailure, attempts: int) -> float:
        if failure.verdict is Verdict.RECIPIENT_BACKOFF:
            # Meta's advice for the pair rate limit: wait 4^X seconds, X = 0, 1, 2, ...
            return float(min(4 ** (attempts - 1), PAIR_BACKOFF_CAP_S))
        base = min(RETRY_BASE_S * 2 ** (attempts - 1), RETRY_CAP_S)
        return float(base * self._rng.uniform(0.5, 1.5))

    async def _purge_logged(self) -> None:
        try:
            log.info("outbox purge removed %d old rows", await self.purge())
        except Exception:
            # Housekeeping only: sending goes on, and the purge is tried again in an hour.
            log.warning("outbox purge failed; next try in an hour", exc_info=True)

    async def _seconds_until_due(self, idle_wait: float) -> float:
        async with self._single.connect() as conn:
            seconds = (await conn.execute(sql.NEXT_DUE)).scalar()
        if seconds is None:
            return idle_wait
        return max(0.05, min(float(seconds), idle_wait))
