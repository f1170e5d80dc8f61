"""What psycopg is told per connection: behind PgBouncer without prepared-statement
support, nothing is ever prepared on the server."""

from __future__ import annotations

import pytest

from chatcentral.config import load_settings
from chatcentral.db.engine import driver_options, make_sync_engine


def test_psycopg_prepares_as_usual_unless_told_not_to() -> None:
    assert driver_options(None, "chatcentral") == {"application_name": "chatcentral"}
    usual = load_settings(_env_file=None)
    assert usual.chatcentral_db_prepared_statements is True
    assert "prepare_threshold" not in driver_options(usual, "chatcentral")
    off = load_settings(_env_file=None, chatcentral_db_prepared_statements="false")
    assert driver_options(off, "chatcentral")["prepare_threshold"] is None


def test_the_admin_engine_passes_the_setting_to_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def connect(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise ConnectionError("not here")

    off = load_settings(_env_file=None, chatcentral_db_prepared_statements="false")
    engine = make_sync_engine("postgresql://u@127.0.0.1:1/x", off)
    monkeypatch.setattr(engine.dialect.loaded_dbapi, "connect", connect)
    with pytest.raises(ConnectionError):
        engine.connect()
    assert seen["prepare_threshold"] is None and seen["application_name"] == "chatcentral-admin"


def test_the_listen_url_is_checked_and_empty_means_unset() -> None:
    assert load_settings(_env_file=None, chatcentral_listen_url="").chatcentral_listen_url is None
    direct = "postgresql://cc@10.0.0.5:5432/chatcentral"
    assert (
        load_settings(_env_file=None, chatcentral_listen_url=direct).chatcentral_listen_url
        == direct
    )
