"""The report's helpers: which code was measured, percentiles as table cells, and a
section of docs/BENCHMARKS.md rewritten between its own markers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from load_webhooks import percentile

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs" / "BENCHMARKS.md"


def code_version() -> str:
    import chatcentral

    where = Path(chatcentral.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", ":/src", ":/central_schema"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def ms_cell(values: list[float], pct: float) -> str:
    if not values:
        return "—"
    value = percentile(values, pct)
    return f"{value:.0f}" if value != float("inf") else "never"


def write_section(name: str, heading: str, body: list[str], section: str) -> None:
    """Put `heading` and `body` between the markers `<!-- {name}: begin -->` and
    `<!-- {name}: end -->` in place of what was there, or, the first time, right under the
    `section` heading (added at the end when missing)."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    block = "\n".join([begin, heading, "", *body, end])
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        if section not in text:
            text = text.rstrip("\n") + f"\n\n{section}\n"
        head, rest = text.split(section, 1)
        text = head + section + "\n\n" + block + "\n" + rest.lstrip("\n")
        text = text.rstrip("\n") + "\n"
    DOCS.write_text(text)
