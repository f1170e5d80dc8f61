"""Fetching one inbound media through the Graph client (mocked with respx): a fresh URL
for every try and again when one expired, WhatsApp's type and size limits, the hash."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from chatcentral.media.fetch import fetch
from chatcentral.whatsapp.graph import GraphClient, MediaFailure, Verdict

GRAPH = "https://graph.facebook.com/v25.0"
CDN = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=4455"
PHOTO = b"\xff\xd8\xff\xe0 a transfer receipt"


@pytest.fixture
async def graph() -> AsyncIterator[GraphClient]:
    client = GraphClient("https://graph.facebook.com", "v25.0")
    yield client
    await client.aclose()


def lookup(mime: str = "image/jpeg") -> respx.Route:
    return respx.get(f"{GRAPH}/4455").respond(
        200, json={"url": CDN, "mime_type": mime, "id": "4455"}
    )


@respx.mock
async def test_the_bytes_arrive_with_their_type_size_and_hash(graph: GraphClient) -> None:
    lookup()
    download = respx.get(CDN).respond(200, content=PHOTO, headers={"content-type": "image/jpeg"})
    sink = io.BytesIO()
    declared = base64.b64encode(hashlib.sha256(PHOTO).digest()).decode()
    got = await fetch(graph, "4455", "tok", "image", sink, declared_sha256=declared)
    assert (got.mime, got.size, got.sha256) == (
        "image/jpeg",
        len(PHOTO),
        hashlib.sha256(PHOTO).hexdigest(),
    )
    assert got.matches_declared is True
    assert sink.getvalue() == PHOTO and sink.tell() == 0  # ready to be stored
    assert download.calls.last.request.headers["authorization"] == "Bearer tok"
    other = await fetch(graph, "4455", "tok", "image", io.BytesIO(), declared_sha256="AAAA")
    assert other.matches_declared is False


@respx.mock
async def test_an_expired_url_is_asked_for_again_at_once(graph: GraphClient) -> None:
    asked = lookup()
    download = respx.get(CDN).mock(
        side_effect=[httpx.Response(404), httpx.Response(200, content=PHOTO)]
    )
    got = await fetch(graph, "4455", "tok", "image", io.BytesIO())
    assert got.size == len(PHOTO)
    assert (asked.call_count, download.call_count) == (2, 2)


@respx.mock
async def test_a_url_that_keeps_expiring_is_a_failure_to_retry_later(graph: GraphClient) -> None:
    lookup()
    respx.get(CDN).respond(404)
    with pytest.raises(MediaFailure) as caught:
        await fetch(graph, "4455", "tok", "image", io.BytesIO())
    assert caught.value.failure.verdict is Verdict.RETRY
    assert caught.value.failure.reason == "media url expired"


@respx.mock
async def test_graph_errors_are_classified(graph: GraphClient) -> None:
    respx.get(f"{GRAPH}/4455").respond(500, json={"error": {"code": 131000, "message": "boom"}})
    with pytest.raises(MediaFailure) as caught:
        await fetch(graph, "4455", "tok", "image", io.BytesIO())
    assert caught.value.failure.verdict is Verdict.RETRY


@respx.mock
async def test_a_type_whatsapp_does_not_allow_is_refused_before_downloading(
    graph: GraphClient,
) -> None:
    lookup("text/html")
    download = respx.get(CDN).respond(200, content=b"<script>")
    with pytest.raises(MediaFailure) as caught:
        await fetch(graph, "4455", "tok", "document", io.BytesIO())
    assert caught.value.failure.verdict is Verdict.PERMANENT
    assert "text/html is not allowed for document" in caught.value.failure.reason
    assert download.call_count == 0


@respx.mock
async def test_media_over_the_limit_is_refused_while_it_arrives(graph: GraphClient) -> None:
    lookup("image/webp")
    respx.get(CDN).respond(200, content=b"x" * (500 * 1024 + 1))
    with pytest.raises(MediaFailure) as caught:
        await fetch(graph, "4455", "tok", "sticker", io.BytesIO())
    assert caught.value.failure.verdict is Verdict.PERMANENT
    assert "larger than 512000" in caught.value.failure.reason
