"""Retention periods as typed on the command line: `180d`."""

from __future__ import annotations

import re
from datetime import timedelta

_PERIOD = re.compile(r"^\s*(\d{1,5})\s*d\s*$", re.IGNORECASE)


class BadPeriod(ValueError):
    """Not a retention period like `180d`."""


def parse_period(raw: str) -> timedelta:
    """`180d` → 180 days. Whole days, at least one."""
    match = _PERIOD.match(raw)
    if match is None or int(match.group(1)) < 1:
        raise BadPeriod(f"{raw!r} is not a period like 180d (a whole number of days, 1d or more)")
    return timedelta(days=int(match.group(1)))
