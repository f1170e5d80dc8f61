"""The results table, on the terminal and in docs/BENCHMARKS.md (its own section only)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path

from drills.bench import Row

BEGIN = "<!-- fault drills: begin (rewritten by scripts/drill.py) -->"
END = "<!-- fault drills: end -->"
HEADER = (
    "| drill | messages | duplicates sent | replies expected / sent | orders expected / created "
    "| 503s | other 5xx | repeated sends (allowed) | time | verdict |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
)


def table(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        orders = f"{row.orders[0]} / {row.orders[1]}" if row.orders else "—"
        lines.append(
            f"| {row.drill} | {row.messages} | {row.duplicates} "
            f"| {row.replies[0]} / {row.replies[1]} | {orders} | {row.status_503} "
            f"| {row.other_5xx} | {row.repeats} (≤ {row.repeats_allowed}) "
            f"| {row.seconds:.0f} s | {'PASS' if row.passed else '**FAIL**'} |"
        )
    return HEADER + "\n".join(lines) + "\n"


def details(rows: list[Row]) -> str:
    out = []
    for row in rows:
        notes = list(row.notes)
        if row.repeats_why:
            notes.append(f"repeats allowed: {row.repeats_why}")
        out.append(f"- **{row.drill}**: " + "; ".join(notes) if notes else f"- **{row.drill}**")
        out += [f"  - FAIL: {failure}" for failure in row.failures]
    return "\n".join(out) + "\n"


def section(rows: list[Row], command: str, seconds: float) -> str:
    cores = os.cpu_count()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{BEGIN}\n"
        "## Fault drills\n\n"
        "`make drill` runs `scripts/drill.py`: each drill starts `chatcentral run` as a process "
        "against an embedded PostgreSQL 18 with fsync on and a loopback fake Cloud API, drives "
        "customers (browsers and buyers who confirm the grocery order of "
        "`tests/transcripts/grocery_order.txt`) through a fault, waits for the outbox to drain "
        "and compares exact counts from the database and from the fake Cloud API. "
        "The command exits 1 when any count is off.\n\n"
        "- *messages*: distinct webhooks acknowledged (fuzz: bodies posted); *duplicates "
        "sent*: deliveries beyond the first of a body (the duplicate storm and Meta-style "
        "redeliveries of anything not answered 200).\n"
        "- *replies*: outbox rows queued for the customers / bodies the fake Cloud API accepted "
        "in the same order (each once); *orders*: customers whose confirmation was "
        "acknowledged / rows in the shops' `orders`.\n"
        "- *repeated sends*: Graph API calls accepted twice, with what is allowed: calls that "
        "timed out after Meta took them, calls in flight at the kill or while the database "
        "was down.\n\n"
        f"```sh\n{command}\n```\n\n"
        f"Run {when} on {platform.machine()} with {cores} cores, code at {_revision()}, "
        f"{seconds:.0f} s in all.\n\n"
        f"{table(rows)}\n{details(rows)}{END}\n"
    )


def write(path: Path, text: str) -> None:
    """Replace the drills' section of `path`, keeping every other section as it is."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if BEGIN in current and END in current:
        before, rest = current.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        updated = before + text + ("\n" + after if after else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")


def _revision() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "an unknown revision"
    return done.stdout.strip()
