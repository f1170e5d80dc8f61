"""`chatcentral reminders SLUG [--dry-run]`: who would be reminded and why; sending."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from chatcentral.cli import main
from tests.conftest import ProvisionedShop

SCHEMA = "tenant_agua"


def customer(engine: Engine, wa_id: str, name: str, days_ago: list[int], **flags: object) -> None:
    with engine.begin() as conn:
        customer_id = conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.customers (wa_id, name, reminders_opt_out) "
                "VALUES (:w, :n, :o) RETURNING id"
            ),
            {"w": wa_id, "n": name, "o": bool(flags.get("opted_out", False))},
        ).scalar_one()
        status_id = conn.execute(
            text(f"SELECT id FROM {SCHEMA}.order_status WHERE code = 'entregado'")
        ).scalar_one()
        for days in sorted(days_ago, reverse=True):
            conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.orders (customer_id, status_id, fulfillment, subtotal, "
                    "total, created_at) VALUES (:c, :s, 'delivery', 70, 70, "
                    "now() - make_interval(days => :d))"
                ),
                {"c": customer_id, "s": status_id, "d": days},
            )


def queued(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM central.outbox "
                    "WHERE payload->'template'->>'name' = 'recordatorio_recarga'"
                )
            ).scalar_one()
        )


def test_dry_run_lists_who_and_why_then_a_run_sends(
    cli_env: str,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tenant", "plan", "agua", "complete"]) == 0  # reminders are part of Completo
    customer(sync_engine, "525511110001", "Ana López", [22, 15, 8])
    customer(sync_engine, "525511110002", "Beto", [30])
    customer(sync_engine, "525511110003", "Carla", [10, 3])
    customer(sync_engine, "525511110004", "Dora", [20, 10], opted_out=True)
    assert main(["reminders", "agua", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    by_phone = {line.split()[1]: line for line in out if line.startswith(("REMIND", "skip"))}
    assert by_phone["+525511110001"].startswith("REMIND")
    assert "every 7 d" in by_phone["+525511110001"]
    assert "due: orders every 7 days" in by_phone["+525511110001"]
    assert by_phone["+525511110002"].startswith("skip")
    assert "1 order(s); 2 needed" in by_phone["+525511110002"]
    assert "not yet: due" in by_phone["+525511110003"]
    assert "opted out" in by_phone["+525511110004"]
    assert out[-1] == "1 would be reminded"
    assert queued(sync_engine) == 0  # a dry run sends nothing

    assert main(["reminders", "agua"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 reminder(s) queued"
    assert main(["reminders", "agua"]) == 0  # again: nothing more
    assert capsys.readouterr().out.splitlines()[-1] == "0 reminder(s) queued"
    assert queued(sync_engine) == 1


def test_a_grocery_shop_has_no_reminders_and_an_unknown_shop_is_refused(
    cli_env: str, shops: dict[str, ProvisionedShop], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reminders", "tienda", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tienda: refill reminders are off for this shop" in out
    assert out.splitlines()[-1] == "0 would be reminded"
    assert main(["reminders", "nadie", "--dry-run"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "chatcentral: error: no tenant with slug 'nadie'"
