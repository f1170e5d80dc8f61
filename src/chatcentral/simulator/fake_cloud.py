"""A loopback stand-in for the Graph API's `/{version}/{phone_number_id}/messages` (and a
WhatsApp Business Account's `/{version}/{waba_id}/message_templates`).

It answers like Meta (a `wamid` per accepted message, `{"success": true}` for mark-read),
records every call, and can be told to misbehave the way the real API does: fail the next
calls with a given HTTP status and Cloud API error code (bursts of 429 or 500), fail a
fraction of all calls, answer slowly, or hang until the client gives up (its timeout).
It serves on 127.0.0.1 only, from a background thread, so tests, the load script, the
fault drills and `chatcentral chat` can run it beside the app.
"""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import itertools
import random
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from email.parser import BytesParser
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# How often a hanging call looks whether its client is still there.
_HANG_POLL_S = 0.05


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it. `received_at` and `answered_at` are `time.monotonic()`
    readings, so a caller in the same process can tell which calls were in flight when."""

    phone_number_id: str
    authorization: str
    body: dict[str, Any]
    wamid: str | None
    failed_with: int | None = None  # the Cloud API error code this call was answered with
    dropped: bool = False  # hung without being accepted: Meta never acted on it
    received_at: float = 0.0
    answered_at: float | None = None  # None: not answered yet, or never (client gave up)
    abandoned: bool = False  # the client closed the connection before the answer

    @property
    def is_mark_read(self) -> bool:
        return self.body.get("status") == "read"

    @property
    def delivered(self) -> bool:
        """Meta accepted it: the customer gets it whether or not the client saw the answer."""
        return self.failed_with is None and not self.dropped


@dataclass(frozen=True)
class _Hang:
    accept: bool
    limit_s: float


@dataclass(frozen=True)
class _Latency:
    seconds: float = 0.0
    slow_fraction: float = 0.0
    slow_seconds: float = 0.0


class FakeCloud:
    def __init__(self, *, seed: int | None = None) -> None:
        self._calls: list[Call] = []
        self._failures: deque[tuple[int, int]] = deque()
        self._hangs: deque[_Hang] = deque()
        self._failure_rate: tuple[float, int, int] | None = None
        self._latency = _Latency()
        self._random = random.Random(seed)
        self._changed = threading.Condition()
        # Databases outlive fakes and wamids are unique there: never reuse one across runs.
        self._prefix = secrets.token_hex(4).upper()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.base_url = ""
        # Message templates by (waba_id, name, language), as Meta keeps them per account.
        self._templates: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.template_calls: list[tuple[str, str, str]] = []  # (method, waba_id, authorization)
        self.app = Starlette(
            routes=[
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
                Route(
                    "/{version}/{waba_id}/message_templates",
                    self._message_templates,
                    methods=["GET", "POST"],
                ),
                Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
                # Before the media id route: both are two path segments.
                Route("/lookaside/{media_id}", self._download, methods=["GET"]),
                Route("/{version}/{media_id}", self._media_url, methods=["GET"]),
            ]
        )
        # Media customers sent (by inbound id) and media the business uploaded.
        self._inbound_media: dict[str, tuple[bytes, str]] = {}
        self._uploads: list[Upload] = []
        # Media faults: look-ups (GET /{media_id}) that fail, media URLs that have expired.
        self._media_failures: deque[tuple[int, int]] = deque()
        self._expired_downloads = 0
        self.media_lookups = 0
        self.media_downloads = 0

    # --- Faults --------------------------------------------------------------------------------

    def fail_next(self, count: int, *, status: int = 500, code: int = 131000) -> None:
        """Make the next `count` calls fail like Meta would (a burst: 429/130429, 500/131000)."""
        with self._changed:
            self._failures.extend([(status, code)] * count)

    def fail_fraction(self, rate: float, *, status: int = 500, code: int = 131000) -> None:
        """From now on fail each call with probability `rate` (0 turns it off)."""
        with self._changed:
            self._failure_rate = (rate, status, code) if rate > 0 else None

    def hang_next(self, count: int, *, accept: bool = True, limit_s: float = 120.0) -> None:
        """Give the next `count` calls no answer until their client gives up (or `limit_s`).

        `accept=True` is Meta taking the message and the answer getting lost: the customer
        receives it, so a client that retries after its timeout sends it twice. With
        `accept=False` Meta never acted on it and a retry is the only delivery."""
        with self._changed:
            self._hangs.extend([_Hang(accept, limit_s)] * count)

    def set_latency(
        self, seconds: float = 0.0, *, slow_fraction: float = 0.0, slow_seconds: float = 0.0
    ) -> None:
        """Answer every call after `seconds` (±50 %), and a `slow_fraction` of them after
        `slow_seconds`: calls of one batch then come back at very different times."""
        with self._changed:
            self._latency = _Latency(seconds, slow_fraction, slow_seconds)

    def reset_faults(self) -> None:
        """Back to a prompt, faultless Cloud API (recorded calls are kept)."""
        with self._changed:
            self._failures.clear()
            self._hangs.clear()
            self._failure_rate = None
            self._latency = _Latency()

    # --- What was received ---------------------------------------------------------------------

    def calls(self) -> list[Call]:
        with self._changed:
            return list(self._calls)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Call]:
        """Block until at least `count` calls were recorded; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._calls) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake Cloud API saw {len(self._calls)} of {count} calls")
                self._changed.wait(left)
            return list(self._calls)

    # --- Media ---------------------------------------------------------------------------------

    def put_media(self, media_id: str, content: bytes, mime_type: str) -> None:
        """Media a customer sent: `GET /{media_id}` gives its URL, the URL its bytes. Like
        Meta, the fake refuses to send it on by this id (only uploaded ids are sendable)."""
        with self._changed:
            self._inbound_media[media_id] = (content, mime_type)

    def uploads(self) -> list[Upload]:
        with self._changed:
            return list(self._uploads)

    def fail_media_lookups(self, count: int, *, status: int = 500, code: int = 131000) -> None:
        """Make the next `count` `GET /{media_id}` calls fail like Meta would."""
        with self._changed:
            self._media_failures.extend([(status, code)] * count)

    def expire_media_urls(self, count: int) -> None:
        """Answer the next `count` downloads 404, as Meta does once a URL (5 min) expired."""
        with self._changed:
            self._expired_downloads += count

    async def _media_url(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _graph_error(401, 190, "Invalid OAuth access token")
        with self._changed:
            self.media_lookups += 1
            failure = self._media_failures.popleft() if self._media_failures else None
            found = self._inbound_media.get(media_id)
        if failure is not None:
            return _graph_error(failure[0], failure[1], f"(#{failure[1]}) simulated")
        if found is None:
            return _graph_error(
                400, 100, f"Unsupported get request. Object with ID '{media_id}' does not exist"
            )
        content, mime_type = found
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/lookaside/{media_id}",
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            }
        )

    async def _download(self, request: Request) -> Response:
        # "If you omit your token, the request will fail."
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return Response(status_code=401)
        with self._changed:
            self.media_downloads += 1
            expired = self._expired_downloads > 0
            self._expired_downloads -= 1 if expired else 0
            found = self._inbound_media.get(request.path_params["media_id"])
        if found is None or expired:
            return Response(status_code=404)
        content, mime_type = found
        return Response(content, media_type=mime_type)

    async def _upload(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _graph_error(401, 190, "Invalid OAuth access token")
        fields = _multipart(request.headers.get("content-type", ""), await request.body())
        file = fields.get("file")
        if fields.get("messaging_product", (b"", "", None))[0] != b"whatsapp" or file is None:
            return _graph_error(400, 100, "(#100) The parameter messaging_product is required")
        media_id = f"{9_000_000_000 + next(self._ids)}"
        upload = Upload(
            phone_number_id=request.path_params["phone_number_id"],
            media_id=media_id,
            content=file[0],
            mime_type=fields.get("type", (b"", "", None))[0].decode() or file[1],
            filename=file[2],
        )
        with self._changed:
            self._uploads.append(upload)
            self._changed.notify_all()
        return JSONResponse({"id": media_id})

    def _refused_media(self, body: dict[str, Any]) -> str | None:
        """An inbound media id in a send: Meta cannot send media it did not get uploaded."""
        kind = body.get("type")
        media = body.get(kind) if isinstance(kind, str) else None
        media_id = media.get("id") if isinstance(media, dict) else None
        with self._changed:
            return str(media_id) if media_id in self._inbound_media else None

    # --- Message templates ---------------------------------------------------------------------

    def templates(self, waba_id: str | None = None) -> list[dict[str, Any]]:
        """The templates submitted (to one account, or to any), as Meta stores them."""
        with self._changed:
            return [
                dict(t) for (waba, _, _), t in self._templates.items() if waba_id in (None, waba)
            ]

    def review(self, name: str, status: str, *, reason: str | None = None) -> None:
        """Meta's review: every language of template `name` gets `status` (APPROVED, …)."""
        with self._changed:
            for (_, template_name, _), template in self._templates.items():
                if template_name == name:
                    template["status"] = status
                    template["rejected_reason"] = reason or "NONE"

    async def _message_templates(self, request: Request) -> Response:
        waba_id = request.path_params["waba_id"]
        authorization = request.headers.get("authorization", "")
        with self._changed:
            self.template_calls.append((request.method, waba_id, authorization))
        if not authorization.startswith("Bearer "):
            return _graph_error(401, 190, "Invalid OAuth access token")
        if request.method == "GET":
            name = request.query_params.get("name")
            with self._changed:
                data = [
                    {key: t[key] for key in ("name", "language", "status", "category", "id")}
                    | {"rejected_reason": t["rejected_reason"]}
                    for (waba, template_name, _), t in self._templates.items()
                    if waba == waba_id and (name is None or name in template_name)
                ]
            return JSONResponse({"data": data, "paging": {"cursors": {}}})
        body = await request.json()
        name, language = body.get("name"), body.get("language")
        if not isinstance(name, str) or not isinstance(language, str):
            return _graph_error(400, 100, "(#100) The parameter name is required")
        if body.get("category") not in {"UTILITY", "MARKETING", "AUTHENTICATION"}:
            return _graph_error(400, 100, "(#100) Invalid parameter: category")
        if not isinstance(body.get("components"), list):
            return _graph_error(400, 100, "(#100) The parameter components is required")
        with self._changed:
            if (waba_id, name, language) in self._templates:
                return _graph_error(
                    400,
                    100,
                    "Invalid parameter",
                    subcode=2388024,
                    user_msg="Content in this language already exists",
                )
            template = {
                "id": str(1_000_000 + len(self._templates)),
                "name": name,
                "language": language,
                "category": body["category"],
                "components": body["components"],
                "status": "PENDING",
                "rejected_reason": "NONE",
            }
            self._templates[waba_id, name, language] = template
        return JSONResponse(
            {"id": template["id"], "status": "PENDING", "category": body["category"]}
        )

    # --- The endpoint --------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        received = time.monotonic()
        refused = self._refused_media(body)
        if refused is not None:
            self._record(self._call(request, body, None, received, failed_with=131053))
            return _graph_error(400, 131053, f"(#131053) Media upload error: {refused}")
        with self._changed:
            failure, hang, delay = self._plan()
        if hang is not None:
            return await self._hang(request, body, hang, received)
        if failure is not None:
            status, code = failure
            index = self._record(self._call(request, body, None, received, failed_with=code))
            await self._pause(delay)
            self._answered(index)
            error = {"message": f"(#{code}) simulated", "type": "OAuthException", "code": code}
            return JSONResponse({"error": error}, status_code=status)
        # Meta takes the message before it answers: a caller that dies while waiting for the
        # answer has still sent it.
        wamid = self._new_wamid(body)
        index = self._record(self._call(request, body, wamid, received))
        await self._pause(delay)
        self._answered(index)
        return self._accepted(body, wamid)

    def _plan(self) -> tuple[tuple[int, int] | None, _Hang | None, float]:
        """What to do with the call that just arrived (called with the lock held)."""
        if self._hangs:
            return None, self._hangs.popleft(), 0.0
        failure = self._failures.popleft() if self._failures else None
        if failure is None and self._failure_rate is not None:
            rate, status, code = self._failure_rate
            if self._random.random() < rate:
                failure = (status, code)
        latency = self._latency
        if latency.slow_fraction and self._random.random() < latency.slow_fraction:
            delay = latency.slow_seconds
        else:
            delay = latency.seconds * self._random.uniform(0.5, 1.5)
        return failure, None, delay

    async def _hang(
        self, request: Request, body: dict[str, Any], hang: _Hang, received: float
    ) -> Response:
        wamid = self._new_wamid(body) if hang.accept else None
        index = self._record(self._call(request, body, wamid, received, dropped=not hang.accept))
        deadline = received + hang.limit_s
        while time.monotonic() < deadline and not self._stopping:
            if await request.is_disconnected():
                self._answered(index, abandoned=True)
                return Response(status_code=499)  # nobody reads it
            await asyncio.sleep(_HANG_POLL_S)
        self._answered(index)
        if hang.accept:
            return self._accepted(body, wamid)
        error = {"message": "(#131000) simulated hang", "type": "OAuthException", "code": 131000}
        return JSONResponse({"error": error}, status_code=504)

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def _new_wamid(self, body: dict[str, Any]) -> str | None:
        if body.get("status") == "read":
            return None
        return f"wamid.FAKE{self._prefix}{next(self._ids):08d}"

    @staticmethod
    def _call(
        request: Request,
        body: dict[str, Any],
        wamid: str | None,
        received: float,
        *,
        failed_with: int | None = None,
        dropped: bool = False,
    ) -> Call:
        return Call(
            phone_number_id=request.path_params["phone_number_id"],
            authorization=request.headers.get("authorization", ""),
            body=body,
            wamid=wamid,
            failed_with=failed_with,
            dropped=dropped,
            received_at=received,
        )

    @staticmethod
    def _accepted(body: dict[str, Any], wamid: str | None) -> JSONResponse:
        if wamid is None:
            return JSONResponse({"success": True})
        recipient = body.get("to") or body.get("recipient")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": str(recipient).lstrip("+")}],
                "messages": [{"id": wamid}],
            }
        )

    def _record(self, call: Call) -> int:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()
            return len(self._calls) - 1

    def _answered(self, index: int, *, abandoned: bool = False) -> None:
        with self._changed:
            call = self._calls[index]
            answered = None if abandoned else time.monotonic()
            self._calls[index] = replace(call, answered_at=answered, abandoned=abandoned)
            self._changed.notify_all()

    # --- Serving -------------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (any free port by default); return the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-cloud"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Cloud API did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    def stop(self) -> None:
        self._stopping = True  # hanging calls end instead of holding up the shutdown
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@dataclass(frozen=True)
class Upload:
    """Media the business uploaded to one of its numbers (`POST /{phone_number_id}/media`)."""

    phone_number_id: str
    media_id: str
    content: bytes
    mime_type: str
    filename: str | None


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[bytes, str, str | None]]:
    """A multipart/form-data body as {field: (bytes, content type, filename)}."""
    parsed = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, tuple[bytes, str, str | None]] = {}
    if not parsed.is_multipart():
        return fields
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields[name] = (
            payload if isinstance(payload, bytes) else b"",
            part.get_content_type(),
            part.get_filename(),
        )
    return fields


def _graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None, user_msg: str | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    return JSONResponse({"error": error}, status_code=status)
