"""The Graph API client keeps no cookies: httpx would otherwise run every answer's headers
through `http.cookiejar`, a sixth of a send's CPU, and send what it kept back to Meta."""

from __future__ import annotations

import httpx
import respx

from chatcentral.whatsapp.graph import GraphClient

GRAPH = "https://graph.test/v23.0"


@respx.mock
async def test_a_cookie_meta_sets_is_neither_kept_nor_sent_back() -> None:
    respx.post(f"{GRAPH}/1110001/messages").mock(
        return_value=httpx.Response(
            200,
            json={"messages": [{"id": "wamid.OUT"}]},
            headers={"Set-Cookie": "session=abc; Path=/"},
        )
    )
    media = respx.get(f"{GRAPH}/MEDIA1").mock(
        return_value=httpx.Response(200, json={"url": "https://cdn.test/1", "mime_type": "x/y"})
    )
    client = GraphClient("https://graph.test", "v23.0")
    try:
        body = {"messaging_product": "whatsapp", "to": "+525512345678", "type": "text"}
        sent = await client.send("1110001", "token", body)
        await client.media_url("MEDIA1", "token")
    finally:
        await client.aclose()
    assert sent.wamid == "wamid.OUT"
    assert "cookie" not in media.calls.last.request.headers
