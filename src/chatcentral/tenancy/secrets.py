"""Per-tenant Graph API tokens, encrypted at rest with CHATCENTRAL_TOKEN_KEY (Fernet)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from chatcentral.config import ConfigError, Settings
from chatcentral.logs import register_secret


def _fernet(settings: Settings) -> Fernet:
    settings.require("chatcentral_token_key")
    assert settings.chatcentral_token_key is not None
    try:
        return Fernet(settings.chatcentral_token_key.get_secret_value())
    except ValueError:
        raise ConfigError(
            "CHATCENTRAL_TOKEN_KEY: must be a Fernet key "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())")'
        ) from None


def encrypt_token(settings: Settings, token: str) -> bytes:
    return _fernet(settings).encrypt(token.encode())


def decrypt_token(settings: Settings, ciphertext: bytes) -> str:
    try:
        token = _fernet(settings).decrypt(ciphertext).decode()
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
