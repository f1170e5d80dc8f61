"""Group commit: what arrives while a write is under way (or gathering) goes in the next one."""

from __future__ import annotations

import asyncio

import pytest

from chatcentral.db.group_commit import GroupCommit


class Writes:
    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    async def __call__(self, batch: list[str]) -> list[str]:
        self.batches.append(batch)
        await asyncio.sleep(0.01)  # the round trip
        if self.fail_on in batch:
            raise RuntimeError("refused")
        return [item.upper() for item in batch]


async def test_items_that_arrive_during_a_write_go_together_in_the_next() -> None:
    writes = Writes()
    group = GroupCommit(writes)
    first = asyncio.create_task(group.submit("a"))
    await asyncio.sleep(0)  # "a" is being written
    rest = [asyncio.create_task(group.submit(item)) for item in "bcd"]
    assert [await first, *[await task for task in rest]] == ["A", "B", "C", "D"]
    assert writes.batches == [["a"], ["b", "c", "d"]]


async def test_a_failed_write_fails_each_of_its_items_and_the_next_write_goes_on() -> None:
    writes = Writes(fail_on="b")
    group = GroupCommit(writes)
    results = await asyncio.gather(group.submit("a"), group.submit("b"), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    assert await group.submit("c") == "C"


async def test_a_gathering_write_waits_for_what_comes_right_after() -> None:
    writes = Writes()
    group = GroupCommit(writes, gather_s=0.05)
    first = asyncio.create_task(group.submit("a"))
    await asyncio.sleep(0.01)  # within the gathering time
    assert await asyncio.gather(first, group.submit("b")) == ["A", "B"]
    assert writes.batches == [["a", "b"]]


@pytest.mark.parametrize("gather_s", [0.0, 0.01])
async def test_a_lone_item_is_written(gather_s: float) -> None:
    writes = Writes()
    assert await GroupCommit(writes, gather_s=gather_s).submit("x") == "X"
    assert writes.batches == [["x"]]
