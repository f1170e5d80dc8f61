"""The admin API served by `chatcentral run`: a key made with the CLI moves an order over
HTTP, and the running dispatcher delivers the customer's WhatsApp message to the fake
Cloud API, as when an admin moves it from the phone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import Engine

from chatcentral.simulator.fake_cloud import FakeCloud
from tests.conftest import ProvisionedShop
from tests.db.api.conftest import add_customer, add_order
from tests.support.processes import interrupt, start_run


def test_an_order_moved_through_the_api_reaches_the_customer_on_whatsapp(
    db_url: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    tmp_path: Path,
    fake_cloud: FakeCloud,
) -> None:
    # The admin API is a Premium feature.
    subprocess.run(
        [sys.executable, "-m", "chatcentral.cli", "tenant", "plan", "tienda", "premium"],
        env={**os.environ, "DATABASE_URL": db_url},
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    made = subprocess.run(
        [sys.executable, "-m", "chatcentral.cli", "tenant", "apikey", "create", "tienda"],
        env={**os.environ, "DATABASE_URL": db_url},
        cwd=tmp_path,  # away from the repository: no developer .env is read
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    ana = add_customer(sync_engine, "tenant_tienda", "5215512345678")
    order = add_order(sync_engine, "tenant_tienda", ana)

    proc, base = start_run(db_url, tmp_path, env={"WHATSAPP_API_BASE_URL": fake_cloud.base_url})
    try:
        headers = {"Authorization": f"Bearer {key}"}
        spec = httpx.get(f"{base}/api/v1/openapi.json", timeout=10)
        assert spec.status_code == 200 and spec.json()["openapi"] == "3.1.0"
        assert httpx.get(f"{base}/api/v1/orders", timeout=10).status_code == 401
        listed = httpx.get(f"{base}/api/v1/orders", headers=headers, timeout=10).json()
        assert [o["id"] for o in listed["items"]] == [order]
        moved = httpx.post(
            f"{base}/api/v1/orders/{order}/status",
            json={"status": "en_camino"},
            headers=headers,
            timeout=10,
        )
        assert moved.status_code == 200, moved.text
        [sent] = fake_cloud.wait_for(1)
        assert sent.phone_number_id == "1110001" and sent.body["to"] == "+525512345678"
        assert sent.body["text"]["body"] == f"🚚 Tu pedido #{order} va en camino."
    finally:
        interrupt(proc)
