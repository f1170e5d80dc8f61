"""The dispatcher's process may hold one connection per send in flight: its soft limit on
open files is raised to fit (never above the hard limit), in a child process so that this
test run's own limit is untouched."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
from chatcentral.bootstrap import allow_open_files
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
allow_open_files(int(sys.argv[1]))
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def soft_limit_after(needed: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(needed)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def test_the_soft_limit_is_raised_to_what_the_sends_need() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"hard limit {hard} leaves no room to raise")
    assert soft_limit_after(1536) == 1536


def test_never_above_the_hard_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit to stop at")
    assert soft_limit_after(hard + 1000) == hard


def test_a_limit_already_high_enough_is_left_alone() -> None:
    assert soft_limit_after(100) == 256
