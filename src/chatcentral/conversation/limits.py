"""How much a customer may write, and what they are told past it. Pure: the service reads
the counters, this decides, the service writes them back.

- Per customer: at most `rate_limit_per_minute` messages (a shop setting, 20 by default)
  in a window that opens with the first message and lasts a minute, by the times WhatsApp
  says they were sent. Taps on the bot's buttons and lists do not count. The first message
  past the limit gets one short notice; the rest of the window's messages are stored and
  not answered.
- Per shop: its plan's monthly message quota. Past it every customer gets a short polite
  answer instead of the menus, and the shop's admins are told once a month.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.whatsapp import outbound

WINDOW = timedelta(minutes=1)
# Message types that answer the bot's own buttons and lists: never rate-limited.
TAPS = frozenset({"interactive", "button"})


class Verdict(enum.Enum):
    ANSWER = "answer"
    NOTICE = "notice"  # the first message past the limit: told to slow down
    SILENT = "silent"  # stored, not answered, until the window passes


@dataclass(frozen=True)
class Window:
    started_at: datetime | None
    count: int
    noticed: bool


def count_message(window: Window, now: datetime, per_minute: int) -> tuple[Window, Verdict]:
    """Count one message in the customer's window; what to do with it."""
    if window.started_at is None or now - window.started_at >= WINDOW:
        return Window(now, 1, False), Verdict.ANSWER
    counted = Window(window.started_at, window.count + 1, window.noticed)
    if counted.count <= per_minute:
        return counted, Verdict.ANSWER
    if counted.noticed:
        return counted, Verdict.SILENT
    return Window(counted.started_at, counted.count, True), Verdict.NOTICE


def per_minute(shop: Shop) -> int:
    settings, _ = effective(shipped_flow(shop.flow), shop.settings)
    return settings.rate_limit_per_minute


def over_quota(shop: Shop, used_this_month: int) -> bool:
    """Whether this month's messages so far (before this one) use up the plan's quota."""
    return shop.message_quota is not None and used_this_month >= shop.message_quota


def notice(shop: Shop, key: str) -> dict[str, Any]:
    """A short text of the shop's texts (`limits.*`), as a reply."""
    _, texts = effective(shipped_flow(shop.flow), shop.settings)
    return outbound.text(texts[key].format(shop=shop.name))
