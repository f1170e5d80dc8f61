"""A loopback stand-in for the Graph API's `/{version}/{phone_number_id}/messages`.

It answers like Meta (a `wamid` per accepted message, `{"success": true}` for mark-read),
records every call, and can be told to fail the next calls with a given HTTP status and
Cloud API error code. It serves on 127.0.0.1 only, from a background thread, so tests,
the load script and `chatcentral chat` can run it beside the app.
"""

from __future__ import annotations

import itertools
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass(frozen=True)
class Call:
    phone_number_id: str
    authorization: str
    body: dict[str, Any]
    wamid: str | None
    failed_with: int | None = None  # the Cloud API error code this call was answered with

    @property
    def is_mark_read(self) -> bool:
        return self.body.get("status") == "read"


class FakeCloud:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._failures: deque[tuple[int, int]] = deque()
        self._changed = threading.Condition()
        # Databases outlive fakes and wamids are unique there: never reuse one across runs.
        self._prefix = secrets.token_hex(4).upper()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"])
            ]
        )

    async def _messages(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._changed:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            status, code = failure
            self._record(
                Call(
                    phone_number_id=request.path_params["phone_number_id"],
                    authorization=request.headers.get("authorization", ""),
                    body=body,
                    wamid=None,
                    failed_with=code,
                )
            )
            return JSONResponse(
                {
                    "error": {
                        "message": f"(#{code}) simulated",
                        "type": "OAuthException",
                        "code": code,
                    }
                },
                status_code=status,
            )
        wamid = (
            None
            if body.get("status") == "read"
            else f"wamid.FAKE{self._prefix}{next(self._ids):08d}"
        )
        call = Call(
            phone_number_id=request.path_params["phone_number_id"],
            authorization=request.headers.get("authorization", ""),
            body=body,
            wamid=wamid,
        )
        self._record(call)
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

    def _record(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def fail_next(self, count: int, *, status: int = 500, code: int = 131000) -> None:
        """Make the next `count` calls fail like Meta would."""
        with self._changed:
            self._failures.extend([(status, code)] * count)

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

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (any free port by default); return the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
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
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
