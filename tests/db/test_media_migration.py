"""Tenant migration t0006: media columns, the trigger that marks inbound media pending
(and nothing else), the backlog of the last 7 days picked up, and the way back."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Engine, inspect, text

from chatcentral.db.migrations import alembic_config, upgrade_tenant
from chatcentral.tenancy.provisioning import provision_tenant
from tests.support.factories import spec

_INSERT = text(
    "INSERT INTO tenant_vieja.messages (direction, wamid, type, body, status, created_at) "
    "VALUES (:direction, :wamid, :type, '{}'::jsonb, 'received', "
    "now() - make_interval(days => :days))"
)


def _states(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT wamid, media_state, media_attempts FROM tenant_vieja.messages")
        ).all()
    return {row.wamid: (row.media_state, row.media_attempts) for row in rows}


def test_inbound_media_is_marked_pending_by_the_trigger_and_the_backlog_picked_up(
    sync_engine: Engine,
) -> None:
    provision_tenant(sync_engine, spec("vieja", "600001"), revision="t0005")
    before = [
        ("in", "w.recent-photo", "image", 1),
        ("in", "w.old-photo", "image", 8),  # its media id has expired: left alone
        ("in", "w.recent-text", "text", 1),
        ("out", "w.sent-photo", "image", 1),
    ]
    with sync_engine.begin() as conn:
        for direction, wamid, kind, days in before:
            conn.execute(
                _INSERT, {"direction": direction, "wamid": wamid, "type": kind, "days": days}
            )
        upgrade_tenant(conn, "tenant_vieja")
    assert _states(sync_engine) == {
        "w.recent-photo": ("pending", 0),
        "w.old-photo": (None, 0),
        "w.recent-text": (None, 0),
        "w.sent-photo": (None, 0),
    }

    after = [
        ("in", "w.voice", "audio"),
        ("in", "w.receipt", "document"),
        ("in", "w.video", "video"),
        ("in", "w.sticker", "sticker"),
        ("in", "w.pin", "location"),
        ("out", "w.relayed", "image"),  # a photo relayed to staff is ours, not to fetch
    ]
    with sync_engine.begin() as conn:
        for direction, wamid, kind in after:
            conn.execute(_INSERT, {"direction": direction, "wamid": wamid, "type": kind, "days": 0})
        due = conn.execute(
            text(
                "SELECT count(*) FROM tenant_vieja.messages "
                "WHERE media_state = 'pending' AND media_next_at <= now()"
            )
        ).scalar()
    states = _states(sync_engine)
    assert [states[wamid] for _, wamid, _ in after] == [
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
        (None, 0),
        (None, 0),
    ]
    assert due == 5  # the four new ones and the recent backlog photo


def test_t0006_goes_back_cleanly(sync_engine: Engine) -> None:
    provision_tenant(sync_engine, spec("vieja", "600002"))
    config = alembic_config("tenant")
    with sync_engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["schema"] = "tenant_vieja"
        command.downgrade(config, "t0005")
    columns = inspect(sync_engine).get_columns("messages", schema="tenant_vieja")
    assert not [c["name"] for c in columns if c["name"].startswith("media_")]
    with sync_engine.begin() as conn:
        # Inserting media works again without the trigger, and its function is gone.
        conn.execute(_INSERT, {"direction": "in", "wamid": "w.x", "type": "image", "days": 0})
        functions = conn.execute(
            text(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'tenant_vieja' AND p.proname = 'media_pending'"
            )
        ).scalar()
    assert functions == 0
