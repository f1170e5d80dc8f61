"""Per-tenant Graph API tokens, encrypted at rest with CHATCENTRAL_TOKEN_KEY (Fernet)."""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken

from chatcentral.config import ConfigError, Settings
from chatcentral.logs import register_secret


def _key(settings: Settings) -> str:
    settings.require("chatcentral_token_key")
    assert settings.chatcentral_token_key is not None
    return settings.chatcentral_token_key.get_secret_value()


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key)
    except ValueError:
        raise ConfigError(
            "CHATCENTRAL_TOKEN_KEY: must be a Fernet key "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())")'
        ) from None


def encrypt_token(settings: Settings, token: str) -> bytes:
    return _fernet(_key(settings)).encrypt(token.encode())


def decrypt_token(settings: Settings, ciphertext: bytes) -> str:
    """The plaintext of a stored token. Decrypted once per process: the dispatcher needs a
    shop's token for every send and its mark-read, outgoing webhooks their secret for every
    delivery, and the ciphertext only changes with the token (or the key)."""
    return _decrypted(_key(settings), bytes(ciphertext))


@functools.lru_cache(maxsize=4096)
def _decrypted(key: str, ciphertext: bytes) -> str:
    try:
        token = _fernet(key).decrypt(ciphertext).decode()
    except InvalidToken:
        raise ConfigError(
            "CHATCENTRAL_TOKEN_KEY: cannot decrypt a stored tenant token (was the key rotated?)"
        ) from None
    register_secret(token)  # no log line may show it, whoever logs it
    return token


def token_for(settings: Settings, encrypted: bytes | None) -> str | None:
    """The Graph API token a shop sends with: its own (decrypted) or the default one."""
    if encrypted is not None:
        return decrypt_token(settings, encrypted)
    default = settings.whatsapp_access_token
    return default.get_secret_value() if default is not None else None
