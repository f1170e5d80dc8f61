"""Settings: read from the environment and .env; a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatcentral.config import ConfigError, load_settings


def test_defaults_follow_the_design() -> None:
    settings = load_settings(_env_file=None)
    assert settings.database_url is None
    assert settings.chatcentral_data_dir == Path(".chatcentral")
    assert settings.whatsapp_api_base_url == "https://graph.facebook.com"
    assert settings.whatsapp_api_version.startswith("v")


def test_environment_and_dotenv_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WHATSAPP_VERIFY_TOKEN=from-dotenv\nWHATSAPP_API_VERSION=v24.0\n")
    monkeypatch.setenv("WHATSAPP_API_VERSION", "v25.0")
    settings = load_settings(_env_file=env_file)
    assert settings.whatsapp_verify_token is not None
    assert settings.whatsapp_verify_token.get_secret_value() == "from-dotenv"
    assert settings.whatsapp_api_version == "v25.0"  # the environment wins over .env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("CHATCENTRAL_LISTEN_URL", "mysql://x"),
        ("CHATCENTRAL_DB_PREPARED_STATEMENTS", "maybe"),
        ("WHATSAPP_API_VERSION", "25"),
        ("WHATSAPP_API_BASE_URL", "graph.facebook.com"),
        ("CHATCENTRAL_DB_POOL_SIZE", "lots"),
        ("CHATCENTRAL_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_names_its_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{variable}:")
    assert "\n" not in message


def test_required_values_name_the_missing_variable() -> None:
    settings = load_settings(_env_file=None, whatsapp_verify_token="x")
    settings.require("whatsapp_verify_token")
    with pytest.raises(ConfigError, match=r"^WHATSAPP_APP_SECRET is not set"):
        settings.require("whatsapp_verify_token", "whatsapp_app_secret")


def test_secrets_do_not_leak_through_repr() -> None:
    settings = load_settings(_env_file=None, whatsapp_app_secret="super-secret-value")
    assert "super-secret-value" not in repr(settings)
