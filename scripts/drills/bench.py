"""What the drills share: their size, the bench they run on, a results row, and one
`chatcentral run` with its own fake Cloud API for the length of a drill."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.simulator.fake_cloud import FakeCloud
from drills.customers import Shop
from drills.harness import AppProcess, Meta, Postgres


@dataclass(frozen=True)
class Size:
    buyers: int
    browsers: int
    browse_length: int
    fuzz: int
    burst: int  # Graph API failures in a row; about one per three customers, so a burst
    # hits many customers once rather than a few again and again (each time backing off)


FULL = Size(buyers=8, browsers=40, browse_length=8, fuzz=300, burst=15)
QUICK = Size(buyers=3, browsers=12, browse_length=6, fuzz=120, burst=5)


@dataclass
class Bench:
    """What every drill shares: the server, the database and the shops set aside for it."""

    postgres: Postgres
    db_url: str
    engine: AsyncEngine
    shops: dict[str, list[Shop]]
    work_dir: Path
    size: Size
    seed: int


@dataclass
class Row:
    """One line of the results table."""

    drill: str
    messages: int = 0
    duplicates: int = 0  # webhook deliveries beyond the first of each body
    replies: tuple[int, int] = (0, 0)  # expected, accepted by the fake Cloud API
    orders: tuple[int, int] | None = None  # expected, created
    status_503: int = 0
    other_5xx: int = 0
    repeats: int = 0  # Graph API calls accepted twice
    repeats_allowed: int = 0
    repeats_why: str = ""
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def expect(self, condition: bool, failure: str) -> None:
        if not condition:
            self.failures.append(failure)


@dataclass
class Running:
    fake: FakeCloud
    app: AppProcess
    meta: Meta


@contextlib.asynccontextmanager
async def running(bench: Bench, name: str) -> AsyncIterator[Running]:
    fake = FakeCloud(seed=bench.seed)
    app = AppProcess(bench.db_url, fake.start(), bench.work_dir / f"{name}.log")
    meta = Meta(app)
    try:
        await asyncio.to_thread(app.start)
        yield Running(fake, app, meta)
    finally:
        await meta.close()
        await asyncio.to_thread(app.stop)
        fake.stop()
