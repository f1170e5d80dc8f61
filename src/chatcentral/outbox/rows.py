"""What the dispatcher holds for one outbox row: the row as claimed, and the outcome of
its send as decided once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatcentral.outbox.pacing import DEFAULT_MPS, MAX_MPS
from chatcentral.whatsapp.graph import SendFailure


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    message_id: int | None
    attempts: int
    schema: str
    phone_number_id: str
    token_encrypted: bytes | None
    slug: str
    leased_until: datetime  # the row's due_at as claimed: the fence for its outcome
    fallback: dict[str, Any] | None = None  # sent instead on 131047 (a closed window)
    mark_read_wamid: str | None = None  # marked read once this row is accepted
    throughput_mps: float | None = None  # the shop's tier, when its settings name one

    @property
    def mps(self) -> float:
        return min(max(self.throughput_mps or DEFAULT_MPS, 1.0), MAX_MPS)


@dataclass(frozen=True)
class Outcome:
    """What to write for one send, decided once (metrics, logs, jitter) however many
    times the write itself has to be tried."""

    wamid: str | None = None
    failure: SendFailure | None = None
    retry_in: float | None = None  # seconds; None with a failure means failed for good
    fallback: bool = False  # refused for a closed window: send the row's fallback now
