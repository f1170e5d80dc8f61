"""The worker's media job: fetch every pending inbound media and keep it.

The webhook only records the message; a trigger marks inbound media 'pending' and
NOTIFYs `chatcentral_media` with the shop's schema (tenant migration t0006). This job,
where the outbox dispatcher runs, wakes on that (and sweeps every shop every
CHATCENTRAL_MEDIA_INTERVAL_S for retries and missed notifications), and per shop:

1. claims due rows in a short transaction (FOR UPDATE SKIP LOCKED, so processes share
   the work): each try is counted and the row leased (`media_next_at` moved past the
   lease) so a process that dies mid-download leaves it to another after the lease;
2. downloads outside any transaction (media id → fresh URL → bytes, `fetch.py`),
   checks type and size, hashes, stores (`store.py`);
3. records the outcome, guarded by the try it claimed: 'stored' with key, size, type and
   SHA-256; or another try after a backoff; or 'failed' for good (a refusal, or the last
   try) with an ERROR log line, a metric and an audit-log row for the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Interval,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatcentral import metrics
from chatcentral.config import Settings
from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import TenantBinder
from chatcentral.incidents.journal import Incidents
from chatcentral.media.fetch import fetch
from chatcentral.media.limits import backoff, object_key
from chatcentral.media.store import Store
from chatcentral.models.central import AuditLog
from chatcentral.models.tenant import Message
from chatcentral.tenancy.directory import load_shops
from chatcentral.tenancy.secrets import token_for
from chatcentral.whatsapp.graph import GraphClient, MediaFailure, SendFailure, Verdict

log = logging.getLogger(__name__)

# A try not recorded within this long is given to another process (a 100 MB document
# over a slow link takes minutes; a crashed worker should not hold media for long).
LEASE = timedelta(minutes=15)
SPOOL_BYTES = 8 * 1024 * 1024  # kept in memory up to this size, then in a temporary file
_REASON_MAX = 300
_PENDING = "pending"

_due = (
    select(Message.id)
    .where(Message.media_state == _PENDING, Message.media_next_at <= func.now())
    .order_by(Message.media_next_at)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
    .cte("due")
)
_CLAIM = (
    update(Message)
    .where(Message.id == _due.c.id)
    .values(
        media_attempts=Message.media_attempts + 1,
        media_next_at=func.now() + bindparam("lease", type_=Interval),
    )
    .returning(Message.id, Message.type, Message.body, Message.created_at, Message.media_attempts)
)
# Only the process holding this very try may record its outcome.
_mine = (
    Message.id == bindparam("message_id", type_=BigInteger),
    Message.media_state == _PENDING,
    Message.media_attempts == bindparam("attempt", type_=Integer),
)
_STORED = (
    update(Message)
    .where(*_mine)
    .values(
        media_state="stored",
        media_key=bindparam("key", type_=Text),
        media_size=bindparam("size", type_=BigInteger),
        media_mime=bindparam("mime", type_=Text),
        media_sha256=bindparam("sha256", type_=Text),
        media_error=None,
        media_next_at=None,
    )
)
_RETRY = (
    update(Message)
    .where(*_mine)
    .values(
        media_error=bindparam("reason", type_=Text),
        media_next_at=func.now() + bindparam("delay", type_=Interval),
    )
)
_FAILED = (
    update(Message)
    .where(*_mine)
    .values(media_state="failed", media_error=bindparam("reason", type_=Text), media_next_at=None)
)
_NEXT_DUE = select(func.extract("epoch", func.min(Message.media_next_at) - func.now())).where(
    Message.media_state == _PENDING
)


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    body: dict[str, Any]
    created_at: datetime
    attempt: int  # this try's number, 1 for the first


@dataclass(frozen=True)
class Outcome:
    message_id: int
    state: str  # "stored", "pending" (another try later) or "failed"
    reason: str | None = None


@dataclass(frozen=True)
class ShopPass:
    outcomes: list[Outcome]
    retry_in: float | None  # seconds until this shop's next retry; None: none of ours


class MediaJob:
    """Keeps the media of every shop; `start` runs it until `stop` is set."""

    def __init__(
        self,
        engine: AsyncEngine,
        graph: GraphClient,
        store: Store,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        incidents: Incidents | None = None,
    ) -> None:
        self._engine = engine
        self._incidents = incidents
        self._graph = graph
        self._store = store
        self._settings = settings
        self._clock = clock
        self._max_attempts = settings.chatcentral_media_max_attempts
        self._batch = settings.chatcentral_media_concurrency
        self._interval = settings.chatcentral_media_interval_s
        self._woken: set[str] = set()
        self._wakeup = asyncio.Event()
        self.passes = 0  # passes finished (for tests and a stuck-job check)

    # --- scheduling ----------------------------------------------------------------------

    def wake(self, schema: str = "") -> None:
        """Called on NOTIFY: this shop (every shop when empty) has media to fetch."""
        self._woken.add(schema or "*")
        self._wakeup.set()

    def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        return asyncio.create_task(self.run(stop), name="media-job")

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: the shops woken, the shops whose retry is due, and every shop each
        sweep. Never dies of a failed pass (logged, counted, tried again next time)."""
        next_sweep = 0.0
        retry_at: dict[str, float] = {}  # schema → when its earliest retry is due
        while not stop.is_set():
            self._wakeup.clear()
            now = self._clock()
            woken, self._woken = self._woken, set()
            sweep = now >= next_sweep or "*" in woken
            due = woken | {schema for schema, at in retry_at.items() if at <= now}
            try:
                for shop in await load_shops(self._engine):
                    if stop.is_set():
                        return
                    if not (sweep or shop.schema in due):
                        continue
                    retry_at.pop(shop.schema, None)
                    try:
                        done = await self.run_shop(shop)
                    except Exception:
                        metrics.MEDIA_ERRORS.inc()
                        log.exception("shop %s: media job failed this pass", shop.slug)
                        continue
                    if done.retry_in is not None:
                        retry_at[shop.schema] = self._clock() + done.retry_in
            except Exception:
                metrics.MEDIA_ERRORS.inc()
                log.exception("media job: pass failed; next in %.0f s", self._interval)
            if sweep:
                next_sweep = now + self._interval
            self.passes += 1
            wake_at = min([next_sweep, *retry_at.values()])
            await _sleep_until(self._wakeup, stop, max(wake_at - self._clock(), 0.0))

    # --- one shop ------------------------------------------------------------------------

    async def run_shop(self, shop: Shop) -> ShopPass:
        """Fetch this shop's due media, a batch at a time (the batch downloads together)."""
        outcomes: list[Outcome] = []
        while True:
            claimed = await self._claim(shop)
            outcomes += await asyncio.gather(*(self._one(shop, row) for row in claimed))
            if len(claimed) < self._batch:
                break
        if not any(outcome.state == _PENDING for outcome in outcomes):
            # Nothing of ours to retry: the sweeps find anything else (another process's
            # lease running out), at the cost of one query per shop, not two.
            return ShopPass(outcomes, None)
        async with self._connect(shop) as conn:
            seconds = (await conn.execute(_NEXT_DUE)).scalar()
        # At least a second: never a busy loop on a row someone else holds right now.
        return ShopPass(outcomes, None if seconds is None else max(float(seconds), 1.0))

    async def _claim(self, shop: Shop) -> list[Claimed]:
        async with self._connect(shop) as conn, conn.begin():
            rows = (await conn.execute(_CLAIM, {"limit": self._batch, "lease": LEASE})).all()
        return [
            Claimed(int(row.id), str(row.type), row.body or {}, row.created_at, row.media_attempts)
            for row in rows
        ]

    async def _one(self, shop: Shop, row: Claimed) -> Outcome:
        try:
            failure = await self._keep(shop, row)
        except Exception as exc:  # a bug or a store we did not expect: try again later
            log.exception("shop %s: media of message %d: unexpected error", shop.slug, row.id)
            failure = SendFailure(Verdict.RETRY, f"unexpected: {type(exc).__name__}")
        if failure is None:
            return Outcome(row.id, "stored")
        return await self._failed(shop, row, failure)

    async def _keep(self, shop: Shop, row: Claimed) -> SendFailure | None:
        """Fetch, check, store and record one media; the failure if it did not work."""
        media = row.body.get(row.kind)
        media_id = media.get("id") if isinstance(media, dict) else None
        if not isinstance(media, dict) or not media_id:
            return SendFailure(Verdict.PERMANENT, f"no {row.kind} id in the message")
        token = token_for(self._settings, shop.access_token_encrypted)
        if token is None:
            return SendFailure(Verdict.RETRY, "no access token configured for shop")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as sink:
            try:
                fetched = await fetch(
                    self._graph,
                    str(media_id),
                    token,
                    row.kind,
                    sink,
                    declared_mime=_text(media.get("mime_type")),
                    declared_sha256=_text(media.get("sha256")),
                )
            except MediaFailure as exc:
                return exc.failure
            if fetched.matches_declared is False:
                # Kept anyway (our hash is what is recorded), but worth a look.
                log.warning(
                    "shop %s: media of message %d does not match the SHA-256 in its webhook",
                    shop.slug,
                    row.id,
                )
            key = object_key(shop.schema, row.id, row.created_at, fetched.sha256, fetched.mime)
            try:
                await self._store.put(key, sink, fetched.mime)
            except Exception as exc:  # noqa: BLE001 - S3 or disk trouble: try again later
                log.warning(
                    "shop %s: media of message %d not stored (%s)",
                    shop.slug,
                    row.id,
                    type(exc).__name__,
                )
                return SendFailure(Verdict.RETRY, f"store: {type(exc).__name__}")
        async with self._connect(shop) as conn, conn.begin():
            await conn.execute(
                _STORED,
                {
                    "message_id": row.id,
                    "attempt": row.attempt,
                    "key": key,
                    "size": fetched.size,
                    "mime": fetched.mime,
                    "sha256": fetched.sha256,
                },
            )
        metrics.MEDIA_DOWNLOADS.labels(outcome="stored").inc()
        if self._incidents is not None and self._incidents.is_open(f"media:{shop.slug}"):
            await self._incidents.recovered(
                f"media:{shop.slug}", f"shop {shop.slug}: customers' media are kept again"
            )
        metrics.MEDIA_BYTES.inc(fetched.size)
        log.info(
            "shop %s: media of message %d stored (%s, %d bytes)",
            shop.slug,
            row.id,
            fetched.mime,
            fetched.size,
        )
        return None

    async def _failed(self, shop: Shop, row: Claimed, failure: SendFailure) -> Outcome:
        reason = failure.reason[:_REASON_MAX]
        final = not _worth_retrying(failure) or row.attempt >= self._max_attempts
        async with self._connect(shop) as conn, conn.begin():
            mine = {"message_id": row.id, "attempt": row.attempt, "reason": reason}
            if not final:
                await conn.execute(_RETRY, {**mine, "delay": backoff(row.attempt)})
            else:
                done = await conn.execute(_FAILED, mine)
                if done.rowcount:
                    await _alert(conn, shop, row, failure)
        if not final:
            metrics.MEDIA_DOWNLOADS.labels(outcome="retry").inc()
            log.warning(
                "shop %s: media of message %d: try %d failed (%s); trying again in %s",
                shop.slug,
                row.id,
                row.attempt,
                reason,
                backoff(row.attempt),
            )
            return Outcome(row.id, _PENDING, reason)
        metrics.MEDIA_DOWNLOADS.labels(outcome="failed").inc()
        if self._incidents is not None:
            await self._incidents.trouble(
                f"media:{shop.slug}",
                "media",
                f"shop {shop.slug}: a customer's {row.kind} could not be kept ({reason})",
                tenant_id=shop.id,
            )
        log.error(
            "shop %s: media of message %d failed for good after %d tr%s: %s",
            shop.slug,
            row.id,
            row.attempt,
            "y" if row.attempt == 1 else "ies",
            reason,
        )
        return Outcome(row.id, "failed", reason)

    @contextlib.asynccontextmanager
    async def _connect(self, shop: Shop) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as raw:
            yield await TenantBinder.bind(raw, shop.schema)


def _worth_retrying(failure: SendFailure) -> bool:
    """Network trouble, 5xx, rate limits, an expired URL: yes. A rejected token too (the
    operator renews it; media ids live 7 days). A refusal or a bad request: no."""
    if failure.verdict is not Verdict.PERMANENT:
        return True
    return failure.code == 190 or failure.http_status == 401


async def _alert(conn: AsyncConnection, shop: Shop, row: Claimed, failure: SendFailure) -> None:
    """The operator's record of media lost for good (the audit log, like a failed send:
    outbox/alerts.py), in the transaction that marks it failed."""
    await conn.execute(
        insert(AuditLog).values(
            tenant_id=shop.id,
            actor="media",
            action="media.failed",
            details={
                "message_id": row.id,
                "type": row.kind,
                "attempts": row.attempt,
                "code": failure.code,
                "http_status": failure.http_status,
                "reason": failure.reason[:_REASON_MAX],
            },
        )
    )


async def _sleep_until(wakeup: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if woken or stopped."""
    waits = [asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


def _text(value: object) -> str | None:
    return str(value) if value else None


__all__ = ["LEASE", "Claimed", "MediaJob", "Outcome", "ShopPass"]
