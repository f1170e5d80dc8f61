"""The collector tuning a server process applies once it has started."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chatcentral import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_the_start_up_heap_and_collects_less_often() -> None:
    survivor = [object() for _ in range(100)]
    heap.settle()
    assert gc.get_freeze_count() >= len(survivor)
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)
    # A young collection no longer walks what was frozen.
    assert not any(item is survivor for item in gc.get_objects(generation=2))
