"""The one place that talks to Meta: POST {base}/{version}/{phone_number_id}/messages.

Every failure is classified once, here, into what the dispatcher should do with it:
retry later, back off for this recipient only, or give up and alert.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import httpx


class Verdict(enum.Enum):
    RETRY = "retry"  # throughput limits, 5xx, timeouts: try again with backoff
    RECIPIENT_BACKOFF = "recipient_backoff"  # pair rate limit: wait for this customer only
    PERMANENT = "permanent"  # the request itself is wrong or can never succeed


# Cloud API codes that succeed on a later try (whatsapp-cloud-api.md §8, §10).
RETRYABLE_CODES = frozenset({130429, 131000, 131016, 131057, 4, 80007, 1, 2})
PAIR_RATE_LIMIT = 131056
# More than 24 hours since the recipient last wrote: only a template gets through (§9).
WINDOW_CLOSED = 131047


@dataclass(frozen=True)
class SendFailure:
    verdict: Verdict
    reason: str
    code: int | None = None
    http_status: int | None = None


@dataclass(frozen=True)
class SendResult:
    """Either the accepted message id (`wamid`) or a classified failure."""

    wamid: str | None = None
    failure: SendFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def classify(http_status: int, body: Any) -> SendFailure:
    """Decide what a non-2xx Graph API answer means for the dispatcher."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    code = code if isinstance(code, int) else None
    message = error.get("message") if isinstance(error, dict) else None
    reason = str(message or f"HTTP {http_status}")[:300]
    if code == PAIR_RATE_LIMIT:
        verdict = Verdict.RECIPIENT_BACKOFF
    elif code in RETRYABLE_CODES or http_status == 429 or http_status >= 500:
        verdict = Verdict.RETRY
    else:
        verdict = Verdict.PERMANENT
    return SendFailure(verdict=verdict, reason=reason, code=code, http_status=http_status)


class GraphClient:
    """Async Graph API client sharing one connection pool across tenants."""

    def __init__(
        self,
        base_url: str,
        version: str,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/{version}"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )

    async def send(self, phone_number_id: str, token: str, body: dict[str, Any]) -> SendResult:
        """POST one message (or mark-read) body; never raises for HTTP or network trouble."""
        url = f"{self._prefix}/{phone_number_id}/messages"
        try:
            response = await self._client.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TimeoutException:
            return SendResult(failure=SendFailure(Verdict.RETRY, "timeout"))
        except httpx.TransportError as exc:
            return SendResult(failure=SendFailure(Verdict.RETRY, f"network: {type(exc).__name__}"))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success:
            return SendResult(wamid=_wamid(payload))
        return SendResult(failure=classify(response.status_code, payload))

    async def aclose(self) -> None:
        await self._client.aclose()


def _wamid(payload: Any) -> str | None:
    # Mark-read answers {"success": true}; message sends carry messages[0].id.
    if isinstance(payload, dict):
        messages = payload.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            wamid = messages[0].get("id")
            return str(wamid) if wamid else None
    return None
