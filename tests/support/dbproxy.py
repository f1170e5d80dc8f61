"""A TCP proxy in front of the test PostgreSQL that a test can cut, to stage an outage.

`cut()` resets every open connection and refuses new ones (what a PostgreSQL restart or a
network failure looks like to a client); `restore()` lets connections through again. It
runs its own event loop in a thread, so it keeps forwarding while a test's loop waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from pathlib import Path

from sqlalchemy import make_url

from chatcentral.db.engine import plain_url


class DatabaseProxy:
    def __init__(self, url: str) -> None:
        self._url = make_url(plain_url(url))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = _free_port()

    @property
    def url(self) -> str:
        """The database URL through the proxy."""
        return (
            self._url.set(host="127.0.0.1", port=self.port, query={})
            .render_as_string(hide_password=False)
            .replace("postgresql://", "postgresql+psycopg://", 1)
        )

    def start(self) -> DatabaseProxy:
        self._thread.start()
        self.restore()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(timeout=10)

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family != socket.AF_UNIX:
                # SO_LINGER 0: the client sees a reset, as when the server dies.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
            transport.abort()
        self._writers.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers.difference_update({writer, up_writer})

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host = self._url.host or str(self._url.query.get("host", ""))
        port = self._url.port or 5432
        if not host or host.startswith("/"):
            path = Path(host or "/var/run/postgresql") / f".s.PGSQL.{port}"
            return await asyncio.open_unix_connection(str(path))
        return await asyncio.open_connection(host, port)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
