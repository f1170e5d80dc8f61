"""A Graph API call that gets no answer ends at the client's timeout, as a retry."""

from __future__ import annotations

import asyncio

from chatcentral.whatsapp.graph import GraphClient, Verdict


async def test_a_send_nobody_answers_times_out_as_a_retry() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # the request arrives; no answer ever comes
        await asyncio.sleep(30)  # then the connection drops: a network error, not a timeout

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = GraphClient(f"http://127.0.0.1:{port}", "v23.0", timeout=0.3)
    try:
        result = await client.send("1110001", "token", {"messaging_product": "whatsapp"})
    finally:
        await client.aclose()
        server.close()
    assert result.failure is not None
    assert result.failure.verdict is Verdict.RETRY and result.failure.reason == "timeout"
