"""Erase message bodies older than a cut-off, one shop at a time.

A message row keeps its direction, type, wamid, status and times (the conversation's
shape, delivery statistics, the relay's thread, the orders' source wamid) and loses its
body: the text the customer typed, a shared location, a caption, a media id (the only
reference to a photo or a payment receipt on Meta's side). The body becomes
`{"purged_at": …}`, so a second pass skips it. Orders, their items, totals and history
are never touched. The payloads the webhook could not handle (`central.unhandled_updates`)
of the shop's number are erased the same way: they hold the same raw messages.

Media kept from those messages (a photo, a receipt, a voice note in S3 or under the data
dir) go with them: the row forgets its object key in the batch's transaction, then the
object is deleted from the store (a deletion that fails is logged; the object is then
only unreferenced).

Rows are erased in batches of `BATCH`, each its own short transaction, walking the
primary key: a shop with millions of old messages never holds locks for long, and a pass
cut short is simply continued by the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import DateTime, Integer, and_, bindparam, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.db.engine import TenantBinder
from chatcentral.logs import log_context
from chatcentral.media.store import Store
from chatcentral.models.central import Tenant, UnhandledUpdate
from chatcentral.models.tenant import Message

log = logging.getLogger(__name__)

BATCH = 5000
PURGED_KEY = "purged_at"
# Message types whose body is (or carries) a reference to media on Meta's side.
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


@dataclass(frozen=True)
class Target:
    slug: str
    schema: str
    phone_number_id: str


@dataclass
class ShopPurge:
    slug: str
    messages: int = 0  # bodies erased (or, in a dry run, that would be)
    media: int = 0  # of those, media messages
    unhandled: int = 0  # unhandled webhook payloads of the shop's number
    objects: int = 0  # stored media objects deleted
    error: str | None = None

    def line(self, *, dry_run: bool) -> str:
        if self.error is not None:
            return f"{self.slug}: failed ({self.error})"
        if not (self.messages or self.unhandled):
            return f"{self.slug}: nothing to erase"
        verb = "would erase" if dry_run else "erased"
        return (
            f"{self.slug}: {verb} {self.messages} message bodies ({self.media} with media), "
            f"{self.unhandled} unhandled webhook payload(s)"
            + (f", {self.objects} stored media object(s) deleted" if self.objects else "")
        )


@dataclass
class PurgeReport:
    cutoff: datetime
    dry_run: bool
    shops: list[ShopPurge] = field(default_factory=list)

    @property
    def failed(self) -> list[ShopPurge]:
        return [s for s in self.shops if s.error is not None]


_CUTOFF = bindparam("cutoff", type_=DateTime(timezone=True))
_AFTER = bindparam("after", type_=Integer)
_OLD_MESSAGE = and_(Message.created_at < _CUTOFF, not_(Message.body.has_key(PURGED_KEY)))
_COUNT_MESSAGES = select(func.count(), func.count().filter(Message.type.in_(MEDIA_TYPES))).where(
    _OLD_MESSAGE
)
_NEXT_BATCH = (
    select(Message.id)
    .where(_OLD_MESSAGE, Message.id > _AFTER)
    .order_by(Message.id)
    .limit(BATCH)
    .scalar_subquery()
)
_BATCH_KEYS = (
    select(Message.id, Message.media_key).where(Message.id.in_(_NEXT_BATCH)).with_for_update()
)
_ERASE_MESSAGES = (
    update(Message)
    .where(Message.id.in_(_NEXT_BATCH))
    .values(
        body=func.jsonb_build_object(PURGED_KEY, func.now()),
        media_key=None,
        media_size=None,
        media_sha256=None,
        media_state=None,
    )
    .returning(Message.id, Message.type)
)
_OLD_UNHANDLED = and_(
    UnhandledUpdate.phone_number_id == bindparam("number"),
    UnhandledUpdate.received_at < _CUTOFF,
    not_(UnhandledUpdate.payload.has_key(PURGED_KEY)),
)
_COUNT_UNHANDLED = select(func.count()).where(_OLD_UNHANDLED)
_ERASE_UNHANDLED = (
    update(UnhandledUpdate)
    .where(_OLD_UNHANDLED)
    .values(payload=func.jsonb_build_object(PURGED_KEY, func.now()))
)


async def targets(engine: AsyncEngine, slug: str | None = None) -> list[Target]:
    """Every shop, active or not (a paused shop's old messages age like any other's)."""
    query = select(Tenant.slug, Tenant.schema_name, Tenant.phone_number_id).order_by(Tenant.id)
    if slug is not None:
        query = query.where(Tenant.slug == slug)
    async with engine.connect() as conn:
        return [Target(*row) for row in (await conn.execute(query)).all()]


async def purge(
    engine: AsyncEngine,
    cutoff: datetime,
    *,
    dry_run: bool = False,
    shops: list[Target] | None = None,
    store: Store | None = None,
) -> PurgeReport:
    """Erase (or with `dry_run`, count) what is older than `cutoff` in every shop. A shop
    that fails is reported and the others go on."""
    report = PurgeReport(cutoff, dry_run)
    binder = TenantBinder(engine)
    for shop in shops if shops is not None else await targets(engine):
        with log_context(shop=shop.slug):
            try:
                result = await purge_shop(
                    engine, binder, shop, cutoff, dry_run=dry_run, store=store
                )
            except Exception as exc:  # one broken schema must not keep the others' data
                log.exception("retention: shop %s could not be purged", shop.slug)
                result = ShopPurge(shop.slug, error=f"{type(exc).__name__}")
        report.shops.append(result)
        if not dry_run and (result.messages or result.unhandled):
            log.info("retention: %s", result.line(dry_run=False))
    return report


async def purge_shop(
    engine: AsyncEngine,
    binder: TenantBinder,
    shop: Target,
    cutoff: datetime,
    *,
    dry_run: bool,
    store: Store | None = None,
) -> ShopPurge:
    tenant = binder.engine_for(shop.schema)
    result = ShopPurge(shop.slug)
    params = {"cutoff": cutoff, "number": shop.phone_number_id}
    if dry_run:
        async with tenant.connect() as conn:
            counted = (await conn.execute(_COUNT_MESSAGES, params)).one()
            result.messages, result.media = int(counted[0]), int(counted[1])
        async with engine.connect() as conn:
            result.unhandled = int((await conn.execute(_COUNT_UNHANDLED, params)).scalar_one())
        return result
    after = 0
    while True:
        batch = {**params, "after": after}
        async with tenant.begin() as conn:
            keys = [row.media_key for row in (await conn.execute(_BATCH_KEYS, batch)).all()]
            erased = (await conn.execute(_ERASE_MESSAGES, batch)).all()
        if not erased:
            break
        result.objects += await _delete_objects(store, shop.slug, [k for k in keys if k])
        result.messages += len(erased)
        result.media += sum(1 for row in erased if row.type in MEDIA_TYPES)
        after = max(row.id for row in erased)
    async with engine.begin() as conn:
        result.unhandled = (await conn.execute(_ERASE_UNHANDLED, params)).rowcount
    return result


async def _delete_objects(store: Store | None, slug: str, keys: list[str]) -> int:
    """Delete the stored media of erased messages; how many went (failures are logged)."""
    deleted = 0
    for key in keys if store is not None else []:
        assert store is not None
        try:
            await store.delete(key)
            deleted += 1
        except Exception:  # the row already forgot it: an unreferenced object, logged
            log.warning("retention: shop %s: media object %s not deleted", slug, key, exc_info=True)
    return deleted
