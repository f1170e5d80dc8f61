"""Short-lived links for staff to a message's stored media (handoff relay, panel, API)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.media.store import Store
from chatcentral.models.tenant import Message

_MEDIA = select(
    Message.type, Message.body, Message.media_state, Message.media_key, Message.media_mime
).where(Message.id == bindparam("message_id", type_=BigInteger))


@dataclass(frozen=True)
class MediaLink:
    state: str | None  # pending, stored, failed; None: the message has no media
    url: str | None  # set when stored


async def media_link(
    conn: AsyncConnection, store: Store, message_id: int, *, expires_s: int
) -> MediaLink | None:
    """A GET link valid `expires_s` seconds to message `message_id`'s media, once it is
    stored (otherwise its state only). None when there is no such message. `conn` is
    bound to the shop's schema."""
    row = (await conn.execute(_MEDIA, {"message_id": message_id})).first()
    if row is None:
        return None
    if row.media_state != "stored" or not row.media_key:
        return MediaLink(row.media_state, None)
    media = (row.body or {}).get(row.type)
    filename = media.get("filename") if isinstance(media, dict) else None
    url = store.url(
        row.media_key,
        mime=row.media_mime or "application/octet-stream",
        expires_s=expires_s,
        filename=str(filename) if filename else None,
    )
    return MediaLink("stored", url)
