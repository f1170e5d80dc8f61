"""What an operator asks of one shop's media: how many are pending, stored and failed,
and which failed and why (`chatcentral media status SLUG`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.conversation.shop import Shop
from chatcentral.db.engine import TenantBinder
from chatcentral.models.tenant import Message


@dataclass(frozen=True)
class FailedMedia:
    message_id: int
    type: str
    attempts: int
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class MediaSummary:
    counts: dict[str, int]  # pending / stored / failed → how many
    stored_bytes: int
    failed: list[FailedMedia]  # the latest first


async def summary(engine: AsyncEngine, shop: Shop, *, limit: int = 20) -> MediaSummary:
    async with engine.connect() as raw:
        conn = await TenantBinder.bind(raw, shop.schema)
        counted = await conn.execute(
            select(
                Message.media_state, func.count(), func.coalesce(func.sum(Message.media_size), 0)
            )
            .where(Message.media_state.is_not(None))
            .group_by(Message.media_state)
        )
        counts = {"pending": 0, "stored": 0, "failed": 0}
        stored_bytes = 0
        for state, count, size in counted:
            counts[str(state)] = int(count)
            if state == "stored":
                stored_bytes = int(size or 0)
        failed = await conn.execute(
            select(
                Message.id,
                Message.type,
                Message.media_attempts,
                Message.media_error,
                Message.created_at,
            )
            .where(Message.media_state == "failed")
            .order_by(Message.id.desc())
            .limit(limit)
        )
        return MediaSummary(
            counts,
            stored_bytes,
            [
                FailedMedia(int(r.id), r.type, r.media_attempts, r.media_error, r.created_at)
                for r in failed
            ],
        )
