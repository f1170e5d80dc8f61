"""The log formats and the redaction safety net, line by line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from chatcentral.config import load_settings
from chatcentral.logs import (
    REDACTED,
    log_context,
    redact,
    register_secret,
    request_id_from,
    setup_logging,
)

NAMED = ("sqlalchemy.engine", "sqlalchemy.pool", "httpx", "transitions", "alembic")
TOKEN = "EAAGm0PX4ZCpsBAKZAZCsecretgraphtoken123"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    named = {name: logging.getLogger(name).level for name in NAMED}
    buffer = io.StringIO()
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in named.items():
        logging.getLogger(name).setLevel(level)


def configure(buffer: io.StringIO, fmt: str, env: str = "development") -> None:
    settings = load_settings(
        _env_file=None,
        chatcentral_env=env,
        chatcentral_log_format=fmt,
        whatsapp_app_secret="unit-app-secret-value",
        whatsapp_access_token=TOKEN,
        database_url="postgresql://shop:hunter2pass@db.example:5432/chatcentral",
    )
    setup_logging(settings, stream=buffer)


def test_json_lines_carry_the_context_and_redact_secrets(
    logs: io.StringIO,
) -> None:
    buffer = logs
    configure(buffer, "json")
    log = logging.getLogger("chatcentral.test")
    with log_context(request_id="r1", shop="tienda"), log_context(wamid="wamid.A"):
        log.info("sent with %s and unit-app-secret-value", TOKEN)
    log.warning("outside")
    first, second = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["request_id"] == "r1" and first["shop"] == "tienda"
    assert first["wamid"] == "wamid.A" and first["level"] == "INFO"
    assert first["message"] == f"sent with {REDACTED} and {REDACTED}"
    assert "request_id" not in second and "shop" not in second  # the context was reset


def test_text_lines_are_readable_and_redacted(logs: io.StringIO) -> None:
    buffer = logs
    configure(buffer, "text")
    log = logging.getLogger("chatcentral.test")
    with log_context(request_id="r2", shop="agua", wamid="wamid.B"):
        try:
            raise RuntimeError("connect to postgresql://shop:hunter2pass@db.example/x failed")
        except RuntimeError:
            log.exception("boom")
    out = buffer.getvalue()
    assert " ERROR chatcentral.test [request_id=r2 shop=agua wamid=wamid.B]: boom" in out
    assert "hunter2pass" not in out and "RuntimeError" in out  # the traceback, redacted


def test_production_defaults_to_json(logs: io.StringIO) -> None:
    buffer = logs
    settings = load_settings(_env_file=None, chatcentral_env="production")
    assert settings.log_format == "json"
    assert load_settings(_env_file=None).log_format == "text"
    configure(buffer, "", env="production")
    logging.getLogger("chatcentral.test").info("hello")
    assert json.loads(buffer.getvalue())["message"] == "hello"


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: "),
        ('headers={"authorization": "Bearer xyz123"}', "headers="),
        ("Cookie: cc_session=s3cr3t; other=1", "Cookie: "),
        ("GET /x?access_token=abcdef123&x=1", "GET /x?access_token="),
        ("api_key=ck_live_123456", "api_key="),
        (f"token {TOKEN[:3]}ABCDEFGHIJKLMNOPQRSTUVWXYZ used", "token "),
        ("{'type': 'text', 'text': {'body': 'mi dirección es Insurgentes 5'}}", "'body': "),
        ('{"image": {"caption": "comprobante de pago de Ana"}}', '"caption": '),
        ('"GET /panel/login/link?t=xyz123-abcdef123 HTTP/1.1" 200', "/panel/login/link?t="),
        ('"GET /media/ABCDEFGHIJKLMNOP.s3cr3t HTTP/1.1" 200', '"GET /media/'),
    ],
)
def test_secret_and_message_shapes_are_blanked(line: str, kept: str) -> None:
    cleaned = redact(line)
    assert REDACTED in cleaned and kept in cleaned, cleaned
    for secret in (
        "abc.def",
        "xyz123",
        "s3cr3t",
        "abcdef123",
        "ck_live",
        "ABCDEFGHIJ",
        "Insurgentes",
        "Ana",
    ):
        assert secret not in cleaned


def test_registered_values_are_blanked_anywhere() -> None:
    register_secret("shop-own-token-7788")
    register_secret("abc")  # too short to blank without eating words
    assert redact("x=shop-own-token-7788y abc") == f"x={REDACTED}y abc"


def test_a_request_id_header_is_kept_only_when_it_looks_like_one() -> None:
    assert request_id_from("req-123.abc") == "req-123.abc"
    forged = request_id_from("x\nERROR fake line")
    assert "\n" not in forged and len(forged) == 16
    assert len(request_id_from(None)) == 16
