"""Moving a customer's media to the shop's number before relaying it (the Graph API mocked
with respx): download by id, upload, send by the new id; failures classified like sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from chatcentral.outbox.media import MediaRelay
from chatcentral.whatsapp.graph import GraphClient, SendFailure, Verdict

GRAPH = "https://graph.facebook.com/v25.0"
CDN = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=778899"
VOICE = b"OggS fake opus bytes"


def relayed(kind: str = "audio", media_id: str = "778899") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+525587654321",
        "type": kind,
        kind: {"id": media_id},
    }


@pytest.fixture
async def graph() -> AsyncIterator[GraphClient]:
    client = GraphClient("https://graph.facebook.com", "v25.0")
    yield client
    await client.aclose()


@respx.mock
async def test_the_media_is_downloaded_uploaded_and_sent_by_its_new_id(graph: GraphClient) -> None:
    lookup = respx.get(f"{GRAPH}/778899").respond(
        200, json={"url": CDN, "mime_type": "audio/ogg; codecs=opus", "id": "778899"}
    )
    download = respx.get(CDN).respond(200, content=VOICE, headers={"content-type": "audio/ogg"})
    upload = respx.post(f"{GRAPH}/1110001/media").respond(200, json={"id": "5550001"})
    relay = MediaRelay(graph)

    prepared = await relay.prepared("1110001", "tok", relayed())
    assert prepared == {**relayed(), "audio": {"id": "5550001"}}
    assert download.calls.last.request.headers["authorization"] == "Bearer tok"
    sent = upload.calls.last.request
    assert sent.headers["authorization"] == "Bearer tok"
    body = sent.content
    assert b'name="messaging_product"\r\n\r\nwhatsapp' in body
    assert b'name="type"\r\n\r\naudio/ogg\r\n' in body  # the bare type, no codecs
    assert b'filename="audio.ogg"' in body and VOICE in body

    # The same media for a second admin: moved once, sent again by the same new id.
    again = await relay.prepared("1110001", "tok", relayed())
    assert again == prepared
    assert (lookup.call_count, download.call_count, upload.call_count) == (1, 1, 1)


@respx.mock
async def test_a_template_that_took_its_place_passes_as_it_is(graph: GraphClient) -> None:
    template = {"messaging_product": "whatsapp", "to": "+52", "type": "template", "template": {}}
    assert await MediaRelay(graph).prepared("1", "tok", template) == template
    assert not respx.calls


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        # An id Meta does not know (or one older than its 7 days): never sendable.
        (
            httpx.Response(400, json={"error": {"code": 100, "message": "Unsupported get"}}),
            Verdict.PERMANENT,
        ),
        (httpx.Response(500, json={"error": {"code": 131000, "message": "boom"}}), Verdict.RETRY),
        (
            httpx.Response(429, json={"error": {"code": 130429, "message": "slow down"}}),
            Verdict.RETRY,
        ),
    ],
)
@respx.mock
async def test_failures_are_classified_like_sends(
    graph: GraphClient, answer: httpx.Response, verdict: Verdict
) -> None:
    respx.get(f"{GRAPH}/778899").mock(return_value=answer)
    failure = await MediaRelay(graph).prepared("1110001", "tok", relayed())
    assert isinstance(failure, SendFailure) and failure.verdict is verdict


@respx.mock
async def test_an_expired_url_is_tried_again_and_too_big_a_file_never(graph: GraphClient) -> None:
    respx.get(f"{GRAPH}/778899").respond(200, json={"url": CDN, "mime_type": "image/jpeg"})
    respx.get(CDN).respond(404)
    expired = await MediaRelay(graph).prepared("1110001", "tok", relayed("image"))
    assert isinstance(expired, SendFailure) and expired.verdict is Verdict.RETRY

    respx.get(CDN).respond(200, content=b"x" * (5 * 1024 * 1024 + 1))
    too_big = await MediaRelay(graph).prepared("1110001", "tok", relayed("image"))
    assert isinstance(too_big, SendFailure) and too_big.verdict is Verdict.PERMANENT
    assert "larger than" in too_big.reason
