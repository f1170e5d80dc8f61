"""Settings read from the environment and `.env` (pydantic-settings).

Every variable DESIGN.md names lives here. A bad value stops start-up with one line naming
the variable (`ConfigError`); values only some commands need (the webhook secrets, the
token key) are checked by those commands through `Settings.require`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_API_VERSION = re.compile(r"^v\d+\.\d+$")
_DB_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    """Process configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str | None = None
    chatcentral_data_dir: Path = Path(".chatcentral")

    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_api_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v25.0"

    # Fernet key that encrypts per-tenant access tokens at rest in central.tenants.
    chatcentral_token_key: SecretStr | None = None

    # The address shop owners open the panel at (https://bot.example.com): login links sent
    # over WhatsApp and printed by `panel link` start with it. Never taken from a request's
    # Host header (anyone could then have a real owner sent a link to their own site).
    chatcentral_public_url: str | None = None

    chatcentral_s3_bucket: str | None = None
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("aws_region", "aws_default_region")
    )
    aws_endpoint_url: str | None = None

    # Connection pool: small pools and a capped lifetime (DESIGN.md, Scale): every connection
    # caches the catalog of each tenant schema it touches and never frees it.
    chatcentral_db_pool_size: int = Field(default=5, ge=1, le=200)
    chatcentral_db_max_overflow: int = Field(default=5, ge=0, le=200)
    chatcentral_db_pool_recycle_s: int = Field(default=1800, ge=10)
    chatcentral_log_level: str = "INFO"
    # Days sent Graph API calls stay in central.outbox for inspection before being deleted.
    chatcentral_outbox_retention_days: int = Field(default=7, ge=1, le=3650)
    # Mark each inbound message read on WhatsApp once its reply has been sent.
    chatcentral_mark_read: bool = True
    # Graph API sends one dispatcher keeps in flight (each may be followed by its
    # mark-read); the HTTP client keeps that many connections alive.
    chatcentral_send_concurrency: int = Field(default=64, ge=1, le=1000)
    # /readyz answers 503 when a sendable outbox row has waited longer than this (seconds):
    # replies are not leaving. 0 turns the check off.
    chatcentral_ready_max_outbox_age_s: int = Field(default=60, ge=0)
    # How often a sending process looks for customers nobody answered in a handoff
    # (seconds; 0 turns it off).
    chatcentral_handoff_check_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    # Seconds between passes of the refill-reminder job (run where the outbox dispatcher
    # runs); 0 turns reminders off for this process.
    chatcentral_reminders_interval_s: int = Field(default=600, ge=0)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(_DB_SCHEMES):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("whatsapp_api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        if not _API_VERSION.match(value):
            raise ValueError("must look like v25.0")
        return value

    @field_validator("whatsapp_api_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("chatcentral_public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("chatcentral_log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    def require(self, *names: str) -> None:
        """Raise `ConfigError` naming the first of `names` that is unset or empty."""
        for name in names:
            value = getattr(self, name)
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if raw is None or raw == "":
                raise ConfigError(f"{name.upper()} is not set (environment or .env)")


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        raise ConfigError(f"{name}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
