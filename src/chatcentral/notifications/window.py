"""WhatsApp's 24-hour customer service window, for the people the shop writes to first.

A business may send free-form messages (text, buttons, lists) to a user only within 24
hours of that user's last message to the same business number; after that only an
approved template is delivered, and anything else fails with 131047. Admins mostly do not
write to their own shop's number, so their window is usually closed. Each admin's last
message is `staff.last_inbound_at` (set by the admin conversation, in this shop's schema:
one schema, one business number).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.tenant import Staff

WINDOW = timedelta(hours=24)
# A message queued now leaves a moment later (and may wait behind others or a retry): near
# the end of a window the template is the safer choice. A send that still meets a closed
# window fails with 131047 and the dispatcher sends its template instead.
MARGIN = timedelta(minutes=10)

_OPEN = select(Staff.wa_id).where(
    Staff.wa_id.in_(bindparam("wa_ids", expanding=True)),
    Staff.last_inbound_at > func.now() - (WINDOW - MARGIN),
)


async def open_windows(conn: AsyncConnection, wa_ids: Collection[str]) -> set[str]:
    """Which of these staff members (canonical `wa_id` digits) may get a free-form message
    now; an unknown one (never wrote) counts as closed."""
    if not wa_ids:
        return set()
    rows = await conn.execute(_OPEN, {"wa_ids": list(wa_ids)})
    return {str(wa_id) for wa_id in rows.scalars()}
