"""The configuration checks: webhook secrets, the Graph API (real Meta or a local fake, a
token for every shop) and the key that decrypts the shops' own tokens.

Development values (`.env.example`'s, a fake Cloud API on this machine) pass in development
and fail in production (CHATCENTRAL_ENV=production), where they would mean a bot that
accepts forged webhooks or never reaches a customer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr

from chatcentral.config import ConfigError, Settings
from chatcentral.preflight.database import Shop
from chatcentral.preflight.results import Result, failed, passed
from chatcentral.tenancy.secrets import decrypt_token, encrypt_token

META = "https://graph.facebook.com"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - a name we compare, not bind
# Markers of the development values shipped in .env.example.
_PLACEHOLDERS = ("change-me", "changeme", "dev-")

_WHERE = {
    "WHATSAPP_APP_SECRET": "Meta app dashboard → App settings → Basic → App secret",
    "WHATSAPP_VERIFY_TOKEN": "any long random string, typed again in Meta's webhook settings",
    "WHATSAPP_ACCESS_TOKEN": "a system user's permanent token, Meta Business settings",
}


def check_webhook_secrets(settings: Settings) -> list[Result]:
    """One line per secret that is wrong (each has its own fix), or one `ok`."""
    problems = []
    for name in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
        value = _secret(getattr(settings, name.lower()))
        if value is None:
            problems.append(
                failed(
                    "configuration",
                    f"{name} is not set: POST /webhook cannot be verified",
                    f"set {name} ({_WHERE[name]}) in the environment or .env",
                )
            )
        elif settings.production and _placeholder(value):
            problems.append(
                failed(
                    "configuration",
                    f"{name} still has the development value from .env.example",
                    f"set {name} to the real value ({_WHERE[name]})",
                )
            )
    return problems or [
        passed("configuration", f"webhook secrets set ({settings.chatcentral_env})")
    ]


def check_graph_config(settings: Settings, shops: list[Shop] | None) -> Result:
    """Real Meta or a fake Cloud API, and a token for every shop that has none of its own."""
    base = settings.whatsapp_api_base_url
    parts = urlsplit(base)
    local = (parts.hostname or "") in _LOOPBACK
    fake = local or parts.scheme != "https"
    if fake and settings.production:
        what = "a fake Cloud API on this machine" if local else "not an HTTPS endpoint"
        return failed(
            "graph api config",
            f"WHATSAPP_API_BASE_URL is {base}, {what}: no customer would get a reply",
            f"unset WHATSAPP_API_BASE_URL (default {META})",
        )
    token = _secret(settings.whatsapp_access_token)
    tokenless = [s.slug for s in shops or [] if s.active and s.token is None]
    if token is None and (shops is None or tokenless):
        who = (
            f"{len(tokenless)} active shop(s) without a token of their own "
            f"({', '.join(tokenless[:5])}) cannot send"
            if tokenless
            else "shops without a token of their own cannot send"
        )
        return failed(
            "graph api config",
            f"WHATSAPP_ACCESS_TOKEN is not set: {who}",
            f"set WHATSAPP_ACCESS_TOKEN ({_WHERE['WHATSAPP_ACCESS_TOKEN']})",
        )
    if token is not None and settings.production and _placeholder(token):
        return failed(
            "graph api config",
            "WHATSAPP_ACCESS_TOKEN still has the development value from .env.example",
            f"set WHATSAPP_ACCESS_TOKEN ({_WHERE['WHATSAPP_ACCESS_TOKEN']})",
        )
    where = (
        f"{'fake Cloud API' if local else 'plain HTTP'} at {base} (development)" if fake else base
    )
    default = "default token set" if token is not None else "every active shop has its own token"
    return passed("graph api config", f"{where}, {settings.whatsapp_api_version}; {default}")


def check_token_key(settings: Settings, shops: list[Shop] | None) -> Result:
    """Shops with their own token need CHATCENTRAL_TOKEN_KEY, and the right one."""
    owners = [s for s in shops or [] if s.token is not None]
    key_set = _secret(settings.chatcentral_token_key) is not None
    if not owners:
        if shops is None:
            detail = "set" if key_set else "not set (the shops could not be read to tell)"
        else:
            detail = "set" if key_set else "not needed (no shop has its own token)"
        if key_set:
            try:  # a typo'd key would only show when the first shop token is stored
                encrypt_token(settings, "probe")
            except ConfigError as exc:
                return failed(
                    "token key", str(exc).split(":")[0] + " is not a Fernet key", _KEY_FIX
                )
        return passed("token key", detail)
    if not key_set:
        return failed(
            "token key",
            f"CHATCENTRAL_TOKEN_KEY is not set: the tokens of {len(owners)} shop(s) "
            f"({', '.join(s.slug for s in owners[:5])}) cannot be decrypted",
            "set CHATCENTRAL_TOKEN_KEY to the key those tokens were stored with",
        )
    unreadable = []
    for shop in owners:
        assert shop.token is not None
        try:
            decrypt_token(settings, shop.token)
        except ConfigError:
            unreadable.append(shop.slug)
    if unreadable:
        return failed(
            "token key",
            f"CHATCENTRAL_TOKEN_KEY does not decrypt the tokens of {len(unreadable)} shop(s) "
            f"({', '.join(unreadable[:5])}): a different key than they were stored with",
            "set CHATCENTRAL_TOKEN_KEY back to the key the tokens were stored with",
        )
    return passed("token key", f"decrypts the tokens of {len(owners)} shop(s)")


_KEY_FIX = (
    'set CHATCENTRAL_TOKEN_KEY to a Fernet key (python -c "from cryptography.fernet '
    'import Fernet; print(Fernet.generate_key().decode())")'
)


def _secret(value: SecretStr | None) -> str | None:
    raw = value.get_secret_value() if value is not None else None
    return raw or None


def _placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in _PLACEHOLDERS)
