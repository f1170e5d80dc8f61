"""Inbound media kept, end to end against real components: the signed POST /webhook and a
real PostgreSQL (the trigger of tenant migration t0006 marks the message pending), the
fake Cloud API's media endpoints, moto's S3 server (ThreadedMotoServer on 127.0.0.1) and
the local store behind the app's /media/{token} route."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.app import create_app
from chatcentral.bootstrap import services
from chatcentral.config import Settings
from chatcentral.db.engine import TenantBinder
from chatcentral.media.job import MediaJob
from chatcentral.media.staff_links import media_link
from chatcentral.media.store import LocalStore, S3Store, Store, make_store, s3_client
from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.tenancy.directory import load_shops
from chatcentral.whatsapp.graph import GraphClient, SendFailure, Verdict
from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer
from tests.support.s3 import moto_s3, with_bucket

__all__ = ["moto_s3"]  # the fixture, for this module's tests

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF a photo of a transfer receipt \x00\x01\x02" * 50
RECEIPT = b"%PDF-1.7 comprobante de transferencia " * 100


class Sender(Customer):
    """A customer who sends media the way WhatsApp's webhook carries it."""

    async def sends(
        self, kind: str, media_id: str, content: bytes, mime: str, **extra: Any
    ) -> None:
        sha = base64.b64encode(hashlib.sha256(content).digest()).decode()
        media = {"id": media_id, "mime_type": mime, "sha256": sha, **extra}
        await self._send({"type": kind, kind: media})


@pytest.fixture
def s3_settings(settings: Settings, moto_s3: str, fake_cloud: FakeCloud) -> Settings:
    """Settings with a fresh bucket of moto's S3 server and the fake Cloud API."""
    return with_bucket(settings, moto_s3).model_copy(
        update={"whatsapp_api_base_url": fake_cloud.base_url, "chatcentral_media_max_attempts": 3}
    )


@pytest.fixture
async def graph(fake_cloud: FakeCloud) -> AsyncIterator[GraphClient]:
    client = GraphClient(fake_cloud.base_url, "v25.0")
    yield client
    await client.aclose()


def media_rows(engine: Engine, schema: str = "tenant_tienda") -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT id, type, media_state, media_attempts, media_error, media_key, "
                f"media_size, media_mime, media_sha256, media_next_at > now() AS later "
                f"FROM {schema}.messages WHERE direction = 'in' AND media_state IS NOT NULL "
                "ORDER BY id"
            )
        ).mappings()
        return [dict(row) for row in rows]


def make_due(engine: Engine, schema: str = "tenant_tienda") -> None:
    """Bring every pending retry forward to now (instead of waiting out the backoff)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {schema}.messages SET media_next_at = now() WHERE media_state = 'pending'"
            )
        )


async def link_for(engine: AsyncEngine, store: Store, message_id: int) -> str:
    async with engine.connect() as raw:
        conn = await TenantBinder.bind(raw, "tenant_tienda")
        link = await media_link(conn, store, message_id, expires_s=60)
    assert link is not None and link.state == "stored" and link.url
    return link.url


async def test_a_photo_is_fetched_stored_in_s3_and_served_back_by_a_presigned_link(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
) -> None:
    client, _ = app_client
    ana = Sender(client, sync_engine, "1110001")
    fake_cloud.put_media("4455", PHOTO, "image/jpeg")
    fake_cloud.put_media("4456", RECEIPT, "application/pdf")
    await ana.sends("image", "4455", PHOTO, "image/jpeg", caption="mi pago")
    await ana.sends("document", "4456", RECEIPT, "application/pdf", filename="recibo mayo.pdf")
    await ana.says("hola")  # not media: no media state at all

    # The webhook only marked them pending (no Graph call while Meta waited for the ack).
    pending = media_rows(sync_engine)
    assert [(r["type"], r["media_state"], r["media_attempts"]) for r in pending] == [
        ("image", "pending", 0),
        ("document", "pending", 0),
    ]
    assert fake_cloud.media_lookups == 0

    store = make_store(s3_settings)
    assert isinstance(store, S3Store)
    job = MediaJob(async_engine, graph, store, s3_settings)
    [shop] = await load_shops(async_engine, "tienda")
    done = await job.run_shop(shop)
    assert [o.state for o in done.outcomes] == ["stored", "stored"]
    assert done.retry_in is None

    photo, receipt = media_rows(sync_engine)
    assert (photo["media_state"], photo["media_attempts"], photo["media_error"]) == (
        "stored",
        1,
        None,
    )
    assert photo["media_size"] == len(PHOTO) and photo["media_mime"] == "image/jpeg"
    assert photo["media_sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert photo["media_key"].startswith("tenant_tienda/") and photo["media_key"].endswith(".jpg")
    assert receipt["media_key"].endswith(".pdf") and receipt["media_size"] == len(RECEIPT)

    # Staff get a presigned GET: the same bytes, the same SHA-256, with their type.
    async with httpx.AsyncClient() as http:
        for row, content, mime in (
            (photo, PHOTO, "image/jpeg"),
            (receipt, RECEIPT, "application/pdf"),
        ):
            url = await link_for(async_engine, store, row["id"])
            assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
            answer = await http.get(url)
            assert answer.status_code == 200
            assert answer.content == content
            assert hashlib.sha256(answer.content).hexdigest() == row["media_sha256"]
            assert answer.headers["content-type"] == mime
        receipt_url = await link_for(async_engine, store, receipt["id"])
        assert (await http.get(receipt_url)).headers["content-disposition"] == (
            "inline; filename*=UTF-8''recibo%20mayo.pdf"
        )
        # (moto does not check signatures or expiry, so no test of a forged link here:
        # that is S3's part; the local store's own links are tested below.)

    # Nothing is fetched twice: the next pass finds nothing due.
    assert (await job.run_shop(shop)).outcomes == []
    assert fake_cloud.media_downloads == 2


async def test_an_expired_url_is_renewed_and_a_failing_graph_api_is_retried_then_reported(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = app_client
    ana = Sender(client, sync_engine, "1110001")
    store = make_store(s3_settings)
    job = MediaJob(async_engine, graph, store, s3_settings)
    [shop] = await load_shops(async_engine, "tienda")

    # The URL expired before the download: a fresh one is asked for at once.
    fake_cloud.put_media("5001", PHOTO, "image/jpeg")
    await ana.sends("image", "5001", PHOTO, "image/jpeg")
    fake_cloud.expire_media_urls(1)
    assert [o.state for o in (await job.run_shop(shop)).outcomes] == ["stored"]
    assert (fake_cloud.media_lookups, fake_cloud.media_downloads) == (2, 2)
    [stored] = media_rows(sync_engine)
    assert await store.get(stored["media_key"]) == PHOTO

    # The Graph API fails every time: retried with backoff, then failed for good.
    fake_cloud.put_media("5002", PHOTO, "image/jpeg")
    await ana.sends("image", "5002", PHOTO, "image/jpeg")
    fake_cloud.fail_media_lookups(10, status=500, code=131000)
    first = await job.run_shop(shop)
    assert [o.state for o in first.outcomes] == ["pending"]
    assert first.retry_in is not None and 25 < first.retry_in <= 30  # the first backoff
    failing = media_rows(sync_engine)[1]
    assert (failing["media_state"], failing["media_attempts"], failing["later"]) == (
        "pending",
        1,
        True,
    )
    assert "simulated" in failing["media_error"]
    assert (await job.run_shop(shop)).outcomes == []  # not due yet: left alone
    caplog.set_level(logging.ERROR, logger="chatcentral.media.job")
    for attempt in (2, 3):
        make_due(sync_engine)
        [outcome] = (await job.run_shop(shop)).outcomes
        assert outcome.state == ("pending" if attempt < 3 else "failed")
    failed = media_rows(sync_engine)[1]
    assert (failed["media_state"], failed["media_attempts"], failed["later"]) == ("failed", 3, None)
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name == "chatcentral.media.job" and r.levelno >= logging.ERROR
    ] == [
        f"shop tienda: media of message {failed['id']} failed for good after 3 tries: "
        "(#131000) simulated"
    ]
    with sync_engine.connect() as conn:
        [(actor, details)] = conn.execute(
            text("SELECT actor, details FROM central.audit_log WHERE action = 'media.failed'")
        ).all()
    assert actor == "media"
    assert details["message_id"] == failed["id"] and details["attempts"] == 3
    assert details["code"] == 131000 and details["http_status"] == 500
    # Failed for good: never tried again.
    make_due(sync_engine)
    assert (await job.run_shop(shop)).outcomes == []


async def test_oversize_or_the_wrong_type_is_refused_at_once_and_nothing_stored(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
) -> None:
    client, _ = app_client
    ana = Sender(client, sync_engine, "1110001")
    big = b"\xff\xd8" + b"x" * (5 * 1024 * 1024)
    fake_cloud.put_media("6001", big, "image/jpeg")
    fake_cloud.put_media("6002", b"GIF89a", "image/gif")
    fake_cloud.put_media("6003", b"<html><script>", "text/html")
    await ana.sends("image", "6001", big, "image/jpeg")
    await ana.sends("image", "6002", b"GIF89a", "image/gif")
    await ana.sends("document", "6003", b"<html>", "text/html", filename="x.html")
    store = make_store(s3_settings)
    job = MediaJob(async_engine, graph, store, s3_settings)
    [shop] = await load_shops(async_engine, "tienda")

    outcomes = (await job.run_shop(shop)).outcomes
    assert [o.state for o in outcomes] == ["failed", "failed", "failed"]
    rows = media_rows(sync_engine)
    assert [(r["media_attempts"], r["media_key"]) for r in rows] == [(1, None)] * 3
    assert "larger than 5242880" in rows[0]["media_error"]
    assert "image/gif is not allowed for image" in rows[1]["media_error"]
    assert "text/html is not allowed for document" in rows[2]["media_error"]
    assert fake_cloud.media_downloads == 1  # the wrong types were refused before downloading
    assert isinstance(store, S3Store)
    listing = s3_client(s3_settings).list_objects_v2(Bucket=store.bucket)
    assert listing.get("KeyCount", 0) == 0


async def test_the_local_store_round_trip_through_the_apps_signed_links(
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
    tmp_path: Path,
) -> None:
    local = settings.model_copy(
        update={"chatcentral_data_dir": tmp_path, "chatcentral_public_url": "http://test"}
    )
    app = create_app(local, engine=async_engine, dispatcher=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ana = Sender(client, sync_engine, "1110001")
            fake_cloud.put_media("7001", RECEIPT, "application/pdf")
            await ana.sends("document", "7001", RECEIPT, "application/pdf", filename="pago.pdf")
            store = app.state.media_store
            assert isinstance(store, LocalStore)
            [shop] = await load_shops(async_engine, "tienda")
            done = await MediaJob(async_engine, graph, store, local).run_shop(shop)
            assert [o.state for o in done.outcomes] == ["stored"]
            [row] = media_rows(sync_engine)
            assert (tmp_path / "media" / row["media_key"]).read_bytes() == RECEIPT

            url = await link_for(async_engine, store, row["id"])
            assert url.startswith("http://test/media/")
            answer = await client.get(url)
            assert answer.status_code == 200 and answer.content == RECEIPT
            assert hashlib.sha256(answer.content).hexdigest() == row["media_sha256"]
            assert answer.headers["content-type"] == "application/pdf"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["content-disposition"] == "inline; filename*=UTF-8''pago.pdf"

            token = url.rsplit("/", 1)[1]
            payload, mac = token.split(".")
            assert (await client.get(f"/media/{payload}.{mac[::-1]}")).status_code == 404
            expired = LocalStore(store.root, store.signer(), clock=lambda: 0).url(
                row["media_key"], mime="application/pdf", expires_s=60
            )
            assert (await client.get(expired)).status_code == 404


async def test_the_worker_fetches_media_as_soon_as_the_webhook_commits(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
) -> None:
    """NOTIFY from the trigger → the listener → the job of a sending process, with a sweep
    interval far too long to be what found it."""
    client, _ = app_client
    worker = s3_settings.model_copy(update={"chatcentral_media_interval_s": 3600.0})
    fake_cloud.put_media("8001", PHOTO, "image/jpeg")
    async with services(worker, async_engine, dispatcher=True) as running:
        assert running.media_job is not None
        await asyncio.wait_for(running.listener.connected.wait(), timeout=10)
        for _ in range(100):  # the job's first sweep (of an empty queue) is over
            if running.media_job.passes:
                break
            await asyncio.sleep(0.05)
        assert running.media_job.passes == 1
        await Sender(client, sync_engine, "1110001").sends("image", "8001", PHOTO, "image/jpeg")
        for _ in range(100):
            rows = media_rows(sync_engine)
            if rows and rows[0]["media_state"] == "stored":
                break
            await asyncio.sleep(0.1)
    assert rows[0]["media_state"] == "stored"
    assert await running.media_store.get(rows[0]["media_key"]) == PHOTO


async def test_two_workers_share_the_work_and_a_dead_workers_try_is_taken_up_after_its_lease(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
) -> None:
    client, _ = app_client
    ana = Sender(client, sync_engine, "1110001")
    for number in range(6):
        content = PHOTO + bytes([number])
        fake_cloud.put_media(f"900{number}", content, "image/jpeg")
        await ana.sends("image", f"900{number}", content, "image/jpeg")
    store = make_store(s3_settings)
    one_at_a_time = s3_settings.model_copy(update={"chatcentral_media_concurrency": 1})
    first, second = (MediaJob(async_engine, graph, store, one_at_a_time) for _ in range(2))
    [shop] = await load_shops(async_engine, "tienda")

    passes = await asyncio.gather(first.run_shop(shop), second.run_shop(shop))
    assert sum(len(p.outcomes) for p in passes) == 6  # each media once, none twice
    assert fake_cloud.media_downloads == 6
    assert {r["media_state"] for r in media_rows(sync_engine)} == {"stored"}

    # A worker claims a try and dies before recording it: the row waits out the lease,
    # then another worker takes it (a second try); the dead one's late word is ignored.
    fake_cloud.put_media("9100", PHOTO, "image/jpeg")
    await ana.sends("image", "9100", PHOTO, "image/jpeg")
    [claimed] = await first._claim(shop)
    assert (await second.run_shop(shop)).outcomes == []  # leased: not due
    make_due(sync_engine)
    [outcome] = (await second.run_shop(shop)).outcomes
    assert outcome.state == "stored"
    late = await first._failed(shop, claimed, SendFailure(Verdict.PERMANENT, "late"))
    assert late.state == "failed"  # what the dead worker thinks…
    row = media_rows(sync_engine)[-1]
    assert (row["media_state"], row["media_attempts"], row["media_error"]) == ("stored", 2, None)
    with sync_engine.connect() as conn:  # …changed nothing and alerted nobody
        assert (
            conn.execute(
                text("SELECT count(*) FROM central.audit_log WHERE action = 'media.failed'")
            ).scalar()
            == 0
        )


async def test_a_rejected_token_is_retried_not_given_up(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
) -> None:
    """An operator renews a token within hours; the media id lives 7 days."""
    client, _ = app_client
    fake_cloud.put_media("9200", PHOTO, "image/jpeg")
    await Sender(client, sync_engine, "1110001").sends("image", "9200", PHOTO, "image/jpeg")
    fake_cloud.fail_media_lookups(1, status=401, code=190)
    job = MediaJob(async_engine, graph, make_store(s3_settings), s3_settings)
    [shop] = await load_shops(async_engine, "tienda")
    assert [o.state for o in (await job.run_shop(shop)).outcomes] == ["pending"]
    make_due(sync_engine)
    assert [o.state for o in (await job.run_shop(shop)).outcomes] == ["stored"]


async def test_an_operator_sees_a_shops_media_and_gets_a_link_from_the_cli(
    app_client: tuple[httpx.AsyncClient, Any],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    async_engine: AsyncEngine,
    s3_settings: Settings,
    fake_cloud: FakeCloud,
    graph: GraphClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chatcentral.cli import main
    from chatcentral.config import get_settings

    async def cli(argv: list[str]) -> int:  # the command runs its own event loop
        return await asyncio.to_thread(main, argv)

    client, _ = app_client
    ana = Sender(client, sync_engine, "1110001")
    fake_cloud.put_media("9300", PHOTO, "image/jpeg")
    await ana.sends("image", "9300", PHOTO, "image/jpeg")
    fake_cloud.put_media("9301", b"GIF89a", "image/gif")
    await ana.sends("image", "9301", b"GIF89a", "image/gif")  # refused
    await ana.sends("audio", "9302", b"ogg", "audio/ogg")  # never fetched: pending
    job = MediaJob(async_engine, graph, make_store(s3_settings), s3_settings)
    [shop] = await load_shops(async_engine, "tienda")
    with sync_engine.begin() as conn:  # the voice note waits for a later try
        conn.execute(
            text(
                "UPDATE tenant_tienda.messages SET media_next_at = now() + interval '1 hour' "
                "WHERE type = 'audio'"
            )
        )
    await job.run_shop(shop)
    stored, refused, waiting = media_rows(sync_engine)

    environment = {
        "DATABASE_URL": s3_settings.database_url or "",
        "CHATCENTRAL_S3_BUCKET": s3_settings.chatcentral_s3_bucket or "",
        "AWS_ENDPOINT_URL": s3_settings.aws_endpoint_url or "",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert await cli(["media", "status", "tienda"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == f"tienda: 1 stored ({len(PHOTO)} bytes), 1 pending, 1 failed"
        assert out[1].startswith(f"failed\tmessage {refused['id']}\timage\t1 tries\t")
        assert out[1].endswith("refused: MIME type image/gif is not allowed for image")

        assert await cli(["media", "link", "tienda", str(stored["id"]), "--ttl", "120"]) == 0
        url = capsys.readouterr().out.strip()
        assert "X-Amz-Expires=120" in url
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).content == PHOTO

        assert await cli(["media", "link", "tienda", str(waiting["id"])]) == 1
        assert "pending, nothing stored to link to" in capsys.readouterr().err
        assert await cli(["media", "link", "tienda", "999999"]) == 1
        assert await cli(["media", "status", "nadie"]) == 1
    finally:
        get_settings.cache_clear()
