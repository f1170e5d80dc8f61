"""`chatcentral worker` runs its dispatcher on uvloop."""

from __future__ import annotations

import asyncio

import pytest

from chatcentral import bootstrap, cli
from chatcentral.config import Settings


def test_the_worker_runs_on_uvloop(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    loops: list[asyncio.AbstractEventLoop] = []

    async def fake_worker(url: str, settings: Settings, stop: asyncio.Event) -> None:
        loops.append(asyncio.get_running_loop())

    monkeypatch.setattr(bootstrap, "run_worker", fake_worker)
    assert cli.main(["worker"]) == 0
    [loop] = loops
    assert isinstance(loop, uvloop.Loop)
