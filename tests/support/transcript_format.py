"""How a golden transcript writes the bot's replies: the lines a phone shows, one `< ` each."""

from __future__ import annotations

import re
from typing import Any

from chatcentral.simulator.render import render


def transcript_lines(replies: list[dict[str, Any]]) -> list[str]:
    lines = []
    for message in replies:
        for line in render(message).lines:
            lines.append(f"< {line}".rstrip())
    return [_scrub(line) for line in lines]


_DATES = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}|\d{2}/\d{2} \d{2}:\d{2}|\d{2}/\d{2}/\d{4}")


def _scrub(line: str) -> str:
    """Dates and times change every run; a transcript shows where they appear."""
    return _DATES.sub("«fecha»", line)
