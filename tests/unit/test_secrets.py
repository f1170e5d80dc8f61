"""Stored tokens: encrypted with CHATCENTRAL_TOKEN_KEY, decrypted once per process (the
dispatcher needs a shop's token for every send and its mark-read)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from chatcentral.config import ConfigError, Settings
from chatcentral.tenancy.secrets import decrypt_token, encrypt_token


def keyed(key: bytes) -> Settings:
    return Settings(chatcentral_token_key=SecretStr(key.decode()))


def test_a_token_is_decrypted_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = keyed(Fernet.generate_key())
    stored = encrypt_token(settings, "EAAGshop-token-0001")
    calls: list[bytes] = []
    real = Fernet.decrypt

    def counted(self: Fernet, token: bytes | str, ttl: int | None = None) -> bytes:
        calls.append(bytes(token, "ascii") if isinstance(token, str) else token)
        return real(self, token, ttl)

    monkeypatch.setattr(Fernet, "decrypt", counted)
    assert decrypt_token(settings, stored) == "EAAGshop-token-0001"
    assert decrypt_token(settings, stored) == "EAAGshop-token-0001"
    assert len(calls) == 1


def test_a_rotated_key_is_refused_every_time() -> None:
    stored = encrypt_token(keyed(Fernet.generate_key()), "EAAGshop-token-0002")
    other = keyed(Fernet.generate_key())
    for _ in range(2):  # a refusal is not remembered as an answer
        with pytest.raises(ConfigError, match="rotated"):
            decrypt_token(other, stored)
