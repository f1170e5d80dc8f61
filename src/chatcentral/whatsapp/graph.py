"""The one place that talks to Meta: POST {base}/{version}/{phone_number_id}/messages,
and the media calls a relayed photo needs (GET /{media_id}, its URL, POST …/media).

Every failure is classified once, here, into what the dispatcher should do with it:
retry later, back off for this recipient only, or give up and alert.

Sends go straight to aiohttp (two per reply: measured, httpx's client and models around
each call cost as much as aiohttp's own work, 6 % of the server's CPU under `make bench`);
the media calls, rare, use httpx's API on the same aiohttp session.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import IO, Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class Verdict(enum.Enum):
    RETRY = "retry"  # throughput limits, 5xx, timeouts: try again with backoff
    RECIPIENT_BACKOFF = "recipient_backoff"  # pair rate limit: wait for this customer only
    PERMANENT = "permanent"  # the request itself is wrong or can never succeed


# Cloud API codes that succeed on a later try (whatsapp-cloud-api.md §8, §10).
RETRYABLE_CODES = frozenset({130429, 131000, 131016, 131057, 4, 80007, 1, 2})
PAIR_RATE_LIMIT = 131056
# More than 24 hours since the recipient last wrote: only a template gets through (§9).
WINDOW_CLOSED = 131047
# The access token is invalid or expired (OAuthException 190): the operator must renew it.
TOKEN_REJECTED = 190


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
        connections: int = 64,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/{version}"
        # One aiohttp session for every shop: as many keep-alive connections as calls in
        # flight, so a steady stream of sends never pays a new TCP/TLS handshake. Sends go
        # to it directly (two per reply: httpx's client and its models around each call
        # cost more than aiohttp's own work); the media calls go through httpx's API on
        # the same connections.
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts = aiohttp.ClientTimeout(sock_connect=5.0, sock_read=timeout, connect=timeout)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=AiohttpTransport(client=self._aiohttp),
        )

    def _aiohttp(self) -> aiohttp.ClientSession:
        """The session, made on first use (inside the event loop it belongs to)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connections, keepalive_timeout=60.0, ssl=httpx.create_ssl_context()
            )
            # Meta sets no cookie we want: none kept, none parsed.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def send(self, phone_number_id: str, token: str, body: dict[str, Any]) -> SendResult:
        """POST one message (or mark-read) body; never raises for HTTP or network trouble."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            status, answer = await self._exchange(
                f"{self._prefix}/{phone_number_id}/messages", headers, content
            )
        except TimeoutError:
            return SendResult(failure=SendFailure(Verdict.RETRY, "timeout"))
        except ConnectionError as exc:
            return SendResult(failure=SendFailure(Verdict.RETRY, f"network: {exc}"))
        try:
            payload = json.loads(answer)
        except ValueError:
            payload = None
        if 200 <= status < 300:
            return SendResult(wamid=_wamid(payload))
        return SendResult(failure=classify(status, payload))

    async def _exchange(
        self, url: str, headers: dict[str, str], content: bytes
    ) -> tuple[int, bytes]:
        """One POST: the answer's status and body. Raises TimeoutError when no answer came
        in time, ConnectionError (named for aiohttp's error) for any other network trouble.
        The seam the tests' respx routes reach (`tests/support/respx_graph.py`)."""
        try:
            async with self._aiohttp().post(
                url, data=content, headers=headers, timeout=self._timeouts, allow_redirects=False
            ) as response:
                return response.status, await response.read()
        except TimeoutError:  # aiohttp's timeouts are ClientErrors too: said as timeouts
            raise
        except aiohttp.ClientError as exc:
            raise ConnectionError(type(exc).__name__) from exc

    # --- media: GET /{media_id} → url → bytes, POST /{phone_number_id}/media ------------

    async def media_url(self, media_id: str, token: str) -> tuple[str, str | None]:
        """Where a media id's bytes are (a URL valid a few minutes) and their MIME type.
        Raises `MediaFailure` for any Graph API or network trouble, classified."""
        url = f"{self._prefix}/{media_id}"
        payload = await self._json(await self._call("GET", url, token))
        location = payload.get("url") if isinstance(payload, dict) else None
        if not isinstance(location, str) or not location:
            raise MediaFailure(SendFailure(Verdict.RETRY, "media answer without a url"))
        mime = payload.get("mime_type")
        return location, str(mime) if mime else None

    async def download(self, url: str, token: str, sink: IO[bytes], *, limit: int) -> str | None:
        """Stream the bytes at a media URL (with the same Bearer token) into `sink`; return
        their Content-Type. More than `limit` bytes is a permanent failure."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if not response.is_success:
                    await response.aread()
                    # An expired URL (404) is fetched anew on the next try.
                    raise MediaFailure(_media_failure(response))
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise MediaFailure(
                            SendFailure(Verdict.PERMANENT, f"media larger than {limit} bytes")
                        )
                    sink.write(chunk)
                content_type = response.headers.get("content-type")
                return str(content_type) if content_type else None
        except httpx.TimeoutException:
            raise MediaFailure(SendFailure(Verdict.RETRY, "timeout")) from None
        except httpx.TransportError as exc:
            raise MediaFailure(
                SendFailure(Verdict.RETRY, f"network: {type(exc).__name__}")
            ) from None

    async def upload_media(
        self,
        phone_number_id: str,
        token: str,
        content: IO[bytes],
        mime_type: str,
        filename: str,
    ) -> str:
        """Upload media to the shop's number; return its new id (valid 30 days)."""
        url = f"{self._prefix}/{phone_number_id}/media"
        response = await self._call(
            "POST",
            url,
            token,
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        payload = await self._json(response)
        media_id = payload.get("id") if isinstance(payload, dict) else None
        if not media_id:
            raise MediaFailure(SendFailure(Verdict.RETRY, "upload answer without an id"))
        return str(media_id)

    async def _call(self, method: str, url: str, token: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(
                method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.TimeoutException:
            raise MediaFailure(SendFailure(Verdict.RETRY, "timeout")) from None
        except httpx.TransportError as exc:
            raise MediaFailure(
                SendFailure(Verdict.RETRY, f"network: {type(exc).__name__}")
            ) from None

    @staticmethod
    async def _json(response: httpx.Response) -> Any:
        if not response.is_success:
            raise MediaFailure(_media_failure(response))
        try:
            return response.json()
        except ValueError:
            raise MediaFailure(SendFailure(Verdict.RETRY, "media answer is not JSON")) from None

    async def aclose(self) -> None:
        await self._client.aclose()  # closes the aiohttp session too, when it made one
        if self._session is not None and not self._session.closed:
            await self._session.close()


class MediaFailure(Exception):
    """A media download or upload that did not work, classified like a send."""

    def __init__(self, failure: SendFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _media_failure(response: httpx.Response) -> SendFailure:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 404 and not (isinstance(body, dict) and "error" in body):
        # A media URL that expired (they live five minutes): a new one next time.
        return SendFailure(Verdict.RETRY, "media url expired", http_status=404)
    return classify(response.status_code, body)


def _wamid(payload: Any) -> str | None:
    # Mark-read answers {"success": true}; message sends carry messages[0].id.
    if isinstance(payload, dict):
        messages = payload.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            wamid = messages[0].get("id")
            return str(wamid) if wamid else None
    return None
