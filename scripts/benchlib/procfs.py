"""Readings from /proc: CPU ticks of processes and threads, resident memory, the machine's
busy time."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def ticks(path: str, children: bool = False) -> int:
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    # After the command: state is fields[0], utime fields[11], stime [12], cutime [13], cstime [14]
    used = int(fields[11]) + int(fields[12])
    return used + (int(fields[13]) + int(fields[14]) if children else 0)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the parent (ppid)
                found.append(int(entry.name))
    return found


@dataclass
class CpuProbe:
    """utime+stime of the server, of a separate `chatcentral worker` if any, of PostgreSQL
    (postmaster + children, reaped ones included), of this process and of the fake Cloud
    API's thread."""

    server_pid: int
    postmaster_pid: int
    fake_tid: int | None
    worker_pid: int | None = None

    def sample(self) -> dict[str, int]:
        pg = ticks(f"/proc/{self.postmaster_pid}/stat", children=True)
        pg += sum(ticks(f"/proc/{c}/stat") for c in children(self.postmaster_pid))
        fake = ticks(f"/proc/self/task/{self.fake_tid}/stat") if self.fake_tid else 0
        busy = machine_busy()
        return {
            "machine": busy,
            "server": ticks(f"/proc/{self.server_pid}/stat"),
            "worker": ticks(f"/proc/{self.worker_pid}/stat") if self.worker_pid else 0,
            "postgres": pg,
            "loadgen": ticks("/proc/self/stat") - fake,
            "fake": fake,
        }


def machine_busy() -> int:
    fields = Path("/proc/stat").read_text().split()[1:9]
    return sum(int(x) for i, x in enumerate(fields) if i not in (3, 4))  # not idle, iowait


def wait_quiet(limit_s: float) -> None:
    """Wait (up to `limit_s`) until the rest of the machine uses under 0.15 cores."""
    deadline = time.monotonic() + limit_s
    while True:
        busy = machine_busy()
        time.sleep(1)
        cores = (machine_busy() - busy) * TICK_MS / 1000
        if cores < 0.15 or time.monotonic() > deadline:
            print(f"machine busy with {cores:.2f} cores before the run", flush=True)
            return


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def fake_tid() -> int | None:
    for thread in threading.enumerate():
        if thread.name == "fake-cloud":
            return thread.native_id
    return None


def rss_kb(pid: int) -> int:
    """Resident memory of a process (VmRSS), in kB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def smaps_rollup(pid: int) -> dict[str, int]:
    """/proc/<pid>/smaps_rollup in kB: Rss, Pss, Anonymous (the private heap: where a
    PostgreSQL backend keeps its relcache and catcache; shared buffers are not in it), ...
    Empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    out = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            out[name.strip()] = int(parts[0])
    return out
