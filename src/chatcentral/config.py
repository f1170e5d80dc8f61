"""Settings read from the environment and `.env` (pydantic-settings).

Every variable DESIGN.md names lives here. A bad value stops start-up with one line naming
the variable (`ConfigError`); values only some commands need (the webhook secrets, the
token key) are checked by those commands through `Settings.require`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

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

    # `production` makes `chatcentral run` refuse to start while a `chatcentral check`
    # (offline) fails, and logs JSON lines unless CHATCENTRAL_LOG_FORMAT says otherwise.
    chatcentral_env: Literal["development", "production"] = "development"

    database_url: str | None = None
    chatcentral_data_dir: Path = Path(".chatcentral")

    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_api_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v25.0"

    # Fernet key that encrypts per-tenant access tokens at rest in central.tenants.
    chatcentral_token_key: SecretStr | None = None

    # The address this installation is reached at (https://bot.example.com): panel login
    # links sent over WhatsApp and printed by `panel link`, and the media links the app
    # serves (relative without it), start with it. Never taken from a request's Host
    # header (anyone could then have a real owner sent a link to their own site).
    chatcentral_public_url: str | None = None

    chatcentral_s3_bucket: str | None = None
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("aws_region", "aws_default_region")
    )
    aws_endpoint_url: str | None = None
    # Read here too so keys in .env reach boto3 (which only reads the real environment).
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    # Inbound media (media/): seconds between the media job's sweeps over every shop (it
    # also wakes at once on new media); 0 turns the job off in this process.
    chatcentral_media_interval_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    # Tries before a download is marked failed for good (backoff 30 s doubling to 1 h).
    chatcentral_media_max_attempts: int = Field(default=8, ge=1, le=50)
    # Downloads one process runs at the same time.
    chatcentral_media_concurrency: int = Field(default=4, ge=1, le=64)
    # Lifetime of a link to stored media handed to staff (seconds).
    chatcentral_media_link_ttl_s: int = Field(default=900, ge=10, le=7 * 24 * 3600)
    # Signs links to media in the local store (served at /media/…); unset derives a key
    # from WHATSAPP_APP_SECRET.
    chatcentral_media_link_secret: SecretStr | None = None
    # Connection pool: small pools and a capped lifetime (DESIGN.md, Scale): every connection
    # caches the catalog of each tenant schema it touches and never frees it. No overflow by
    # default: an overflow connection is closed as soon as the pool has room again, so under
    # a steady load connections come and go, and each new backend reads the shops' catalogs
    # and prepares their statements anew (`make bench`: 5 + 5 cost PostgreSQL 7.7 ms per
    # message, 10 + 0 cost 3.0, for the same load).
    chatcentral_db_pool_size: int = Field(default=10, ge=1, le=200)
    chatcentral_db_max_overflow: int = Field(default=0, ge=0, le=200)
    chatcentral_db_pool_recycle_s: int = Field(default=1800, ge=10)
    # A pooled connection that has run statements in more than this many tenant schemas is
    # replaced when it next leaves the pool (0: never): its backend's catalog caches grow
    # with every schema it touches, and a lifetime alone does not bound that under load.
    chatcentral_db_conn_max_schemas: int = Field(default=100, ge=0)
    # The app's pool prepares a statement on the server at its second run on a connection.
    # Turn it off behind a PgBouncer in transaction mode that cannot track prepared
    # statements (before 1.21, or max_prepared_statements = 0; Debian 12 ships 1.18).
    chatcentral_db_prepared_statements: bool = True
    # LISTEN/NOTIFY needs a session of its own: behind PgBouncer in transaction mode, point
    # this at PostgreSQL itself (one connection per process). Unset: DATABASE_URL.
    chatcentral_listen_url: str | None = None
    chatcentral_log_level: str = "INFO"
    # `json` (one object per line, for log shippers) or `text`; unset: json in production.
    chatcentral_log_format: Literal["text", "json"] | None = None
    # Days sent Graph API calls stay in central.outbox for inspection before being deleted.
    chatcentral_outbox_retention_days: int = Field(default=7, ge=1, le=3650)
    # Mark each inbound message read on WhatsApp once its reply has been sent.
    chatcentral_mark_read: bool = True
    # Graph API sends one dispatcher keeps in flight (each may be followed by its
    # mark-read); the HTTP client keeps that many connections alive.
    chatcentral_send_concurrency: int = Field(default=1024, ge=1, le=4000)
    # Whether `chatcentral run` also runs the dispatcher and the periodic jobs (`run
    # --no-dispatcher` turns it off when `chatcentral worker` does them).
    chatcentral_dispatcher: bool = True
    # /readyz answers 503 when a sendable outbox row has waited longer than this (seconds):
    # replies are not leaving. 0 turns the check off.
    chatcentral_ready_max_outbox_age_s: int = Field(default=60, ge=0)
    # Alerts (incidents/): the operator's phone and the shop whose number tells them; an
    # outbox row due longer than this many seconds is an incident; this many failed sends
    # in a row for one shop are one.
    chatcentral_operator_phone: str | None = None
    chatcentral_operator_shop: str | None = None
    chatcentral_alert_outbox_age_s: int = Field(default=300, ge=1)
    chatcentral_alert_send_failures: int = Field(default=5, ge=1)
    # Seconds between the watch's looks at the outbox and open handoffs (gauges, incidents).
    chatcentral_watch_interval_s: float = Field(default=15.0, ge=0.0)
    # How often a sending process looks for customers nobody answered in a handoff
    # (seconds; 0 turns it off).
    chatcentral_handoff_check_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    # Seconds between passes of the refill-reminder job (run where the outbox dispatcher
    # runs); 0 turns reminders off for this process.
    chatcentral_reminders_interval_s: int = Field(default=600, ge=0)
    # Message bodies older than this many days are erased once a day where the dispatcher
    # runs (orders stay); unset keeps them forever. `chatcentral purge` does it by hand.
    chatcentral_retention_days: int | None = Field(default=None, ge=1, le=36500)

    @field_validator("database_url", "chatcentral_listen_url")
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
        if value is None or value.strip() == "":
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

    @field_validator("chatcentral_env", mode="before")
    @classmethod
    def _check_env(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or "development"
        return value

    @field_validator("chatcentral_log_format", "chatcentral_retention_days", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @property
    def production(self) -> bool:
        return self.chatcentral_env == "production"

    @property
    def log_format(self) -> Literal["text", "json"]:
        """The format asked for, else JSON in production and readable text elsewhere."""
        if self.chatcentral_log_format is not None:
            return self.chatcentral_log_format
        return "json" if self.production else "text"

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
