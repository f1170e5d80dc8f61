"""The one place that talks to Meta: POST {base}/{version}/{phone_number_id}/messages,
and the media calls a relayed photo needs (GET /{media_id}, its URL, POST …/media).

Every failure is classified once, here, into what the dispatcher should do with it:
retry later, back off for this recipient only, or give up and alert.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import IO, Any

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


class _NoCookies(httpx.Cookies):
    """The Graph API sets no cookie we want; httpx would parse every answer's headers for
    them through `http.cookiejar` (a sixth of a send's CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("the Graph API client keeps no cookies")


class GraphClient:
    """Async Graph API client sharing one connection pool across tenants."""

    def __init__(
        self,
        base_url: str,
        version: str,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        connections: int = 64,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/{version}"
        # One client for every shop: as many keep-alive connections as calls in flight, so
        # a steady stream of sends never pays a new TCP/TLS handshake. httpx's API on
        # aiohttp's connections: httpx's own pool and HTTP/1.1 stack cost 1.8-2.1 ms of CPU
        # per call at 32 in flight, the aiohttp transport 0.37 (docs/BENCHMARKS.md).
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=60.0,
        )
        self._urls: dict[str, httpx.URL] = {}
        timeouts = httpx.Timeout(timeout, connect=5.0)
        self._extensions = {"timeout": timeouts.as_dict()}
        self._client = _CookielessClient(
            timeout=timeouts,
            limits=limits,
            transport=transport or AiohttpTransport(limits=limits),
        )

    async def send(self, phone_number_id: str, token: str, body: dict[str, Any]) -> SendResult:
        """POST one message (or mark-read) body; never raises for HTTP or network trouble."""
        # Built here rather than by `post()`: two of these per reply, and the client's
        # merging of its defaults, cookies and URL into each cost more than the call.
        request = httpx.Request(
            "POST",
            self._messages_url(phone_number_id),
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            extensions=self._extensions,
        )
        try:
            response = await self._client.send(request)
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

    def _messages_url(self, phone_number_id: str) -> httpx.URL:
        url = self._urls.get(phone_number_id)
        if url is None:  # parsed once per number: the shops of this process
            url = self._urls[phone_number_id] = httpx.URL(
                f"{self._prefix}/{phone_number_id}/messages"
            )
        return url

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
        await self._client.aclose()


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
