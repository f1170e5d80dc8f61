"""Group commit: writes that arrive while one is under way wait for the next, which takes
them all.

When nothing is being written an item goes at once, so batching costs no latency; under
load each write carries whatever arrived meanwhile, and the round trips, transactions and
connection check-outs are shared. A failed write fails every item of it: each caller then
takes its own slower path (one item at a time) and finds out which item was at fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        gather_s: float = 0.0,
    ) -> None:
        """`write` takes a batch and returns one result per item, in order; with `gather_s`,
        a write waits that long for more items first."""
        self._write = write
        self._gather_s = gather_s
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write `item` with whatever else is waiting; its result, or the write's error."""
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting())
        return await done

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            if self._gather_s:
                await asyncio.sleep(self._gather_s)
            batch, self._waiting = self._waiting, []
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)
