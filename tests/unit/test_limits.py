"""The message limits' policy: a one-minute window per customer, one notice past it, and
the plan's monthly quota."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from chatcentral.conversation.limits import Verdict, Window, count_message, notice, over_quota
from tests.support.memory_shop import demo_shop

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_past_the_limit_one_notice_then_silence_until_the_window_passes() -> None:
    window = Window(None, 0, False)
    verdicts = []
    for second in range(6):
        window, verdict = count_message(window, T0 + timedelta(seconds=second), per_minute=3)
        verdicts.append(verdict)
    assert verdicts == [Verdict.ANSWER] * 3 + [Verdict.NOTICE, Verdict.SILENT, Verdict.SILENT]
    assert window == Window(T0, 6, True)
    # A minute after the window opened, a new one opens: answered, noticed again if need be.
    window, verdict = count_message(window, T0 + timedelta(seconds=60), per_minute=3)
    assert verdict is Verdict.ANSWER and window == Window(T0 + timedelta(seconds=60), 1, False)


def test_the_quota_counts_messages_before_this_one() -> None:
    shop = demo_shop("grocery", "Tienda")
    assert not over_quota(shop, 10_000)  # no quota: no limit
    limited = dataclasses.replace(shop, message_quota=2000)
    assert not over_quota(limited, 1999)
    assert over_quota(limited, 2000)


def test_notices_are_the_shops_texts() -> None:
    texts = {"limits.slow_down": "Más despacio, {shop}"}
    shop = dataclasses.replace(demo_shop("grocery", "Tienda"), settings={"texts": texts})
    assert notice(shop, "limits.slow_down")["text"]["body"] == f"Más despacio, {shop.name}"
    assert shop.name in notice(shop, "limits.unavailable")["text"]["body"]
