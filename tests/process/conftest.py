"""Fixtures of the process tier: servers and browsers against real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatcentral.simulator.fake_cloud import FakeCloud


@pytest.fixture
def fake_cloud() -> Iterator[FakeCloud]:
    """The fake Cloud API on 127.0.0.1, recording every Graph API call it answers."""
    fake = FakeCloud()
    fake.start()
    yield fake
    fake.stop()
