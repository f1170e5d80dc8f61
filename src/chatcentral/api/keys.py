"""Per-shop keys to the admin API: made, listed and revoked by the operator's CLI, checked
on every request.

A key is `cck_` and 32 random bytes (URL-safe base64), shown once when it is made. Only
its SHA-256 is stored: with 256 bits of randomness there is nothing to guess from the
digest, so a slow password hash would only slow every request. Its first characters
(`prefix`) name it in listings and revocations without revealing it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.central import ApiKey, Tenant
from chatcentral.tenancy.registry import UnknownTenant, record_change

KEY_MARK = "cck_"
PREFIX_LENGTH = len(KEY_MARK) + 8
# A key longer than this is not one of ours; refused before hashing.
KEY_MAX = 128
# `last_used_at` is written at most once a minute per key, not on every request.
_TOUCH_EVERY = timedelta(minutes=1)


class KeyNotFound(LookupError):
    pass


@dataclass(frozen=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class MadeKey:
    row: KeyRow
    secret: str  # the whole key: printed once, never stored


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key of one shop."""

    key_id: int
    tenant_id: int
    slug: str
    prefix: str
    name: str

    @property
    def actor(self) -> str:
        """How history and the audit log name changes made with this key."""
        return f"api:{self.prefix}"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _tenant_id(conn: Connection, slug: str) -> int:
    tenant_id = conn.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar()
    if tenant_id is None:
        raise UnknownTenant(f"no tenant with slug {slug!r}")
    return int(tenant_id)


_ROW = (
    ApiKey.id,
    ApiKey.name,
    ApiKey.prefix,
    ApiKey.created_at,
    ApiKey.last_used_at,
    ApiKey.revoked_at,
)


def create_key(engine: Engine, slug: str, name: str, *, actor: str = "cli") -> MadeKey:
    """A new key for shop `slug`; audited (the prefix, never the key)."""
    secret = KEY_MARK + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        tenant_id = _tenant_id(conn, slug)
        row = conn.execute(
            insert(ApiKey)
            .values(
                tenant_id=tenant_id,
                name=name,
                prefix=secret[:PREFIX_LENGTH],
                secret_hash=digest(secret),
            )
            .returning(*_ROW)
        ).one()
        made = KeyRow(*row)
        record_change(
            conn,
            slug,
            tenant_id,
            "tenant.apikey.create",
            actor=actor,
            details={"key_id": made.id, "prefix": made.prefix, "name": name},
        )
    return MadeKey(made, secret)


def list_keys(engine: Engine, slug: str) -> list[KeyRow]:
    with engine.connect() as conn:
        tenant_id = _tenant_id(conn, slug)
        rows = conn.execute(
            select(*_ROW).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
        ).all()
    return [KeyRow(*row) for row in rows]


def revoke_key(engine: Engine, slug: str, which: str, *, actor: str = "cli") -> KeyRow:
    """Revoke one key of shop `slug`, named by its id or its prefix; audited. Revoking a
    revoked key changes nothing and says when it was revoked."""
    which = which.strip()
    match = ApiKey.prefix == which
    if which.isdigit() and len(which) < 19:
        match = or_(match, ApiKey.id == int(which))
    with engine.begin() as conn:
        tenant_id = _tenant_id(conn, slug)
        row = conn.execute(
            select(*_ROW).where(ApiKey.tenant_id == tenant_id, match).with_for_update()
        ).first()
        if row is None:
            raise KeyNotFound(f"{slug} has no API key {which!r}")
        if row.revoked_at is not None:
            return KeyRow(*row)
        revoked = conn.execute(
            update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=func.now()).returning(*_ROW)
        ).one()
        record_change(
            conn,
            slug,
            tenant_id,
            "tenant.apikey.revoke",
            actor=actor,
            details={"key_id": row.id, "prefix": row.prefix},
        )
    return KeyRow(*revoked)


async def authenticate(conn: AsyncConnection, key: str) -> Principal | None:
    """The shop and key behind `key`, or None for a missing, unknown or revoked key. The
    lookup is by digest (a unique index), so no key is compared character by character."""
    if not key.startswith(KEY_MARK) or len(key) > KEY_MAX:
        return None
    row = (
        await conn.execute(
            select(ApiKey.id, ApiKey.tenant_id, Tenant.slug, ApiKey.prefix, ApiKey.name)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.secret_hash == digest(key), ApiKey.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    await conn.execute(
        update(ApiKey)
        .where(
            ApiKey.id == row.id,
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at < func.now() - _TOUCH_EVERY,
            ),
        )
        .values(last_used_at=func.now())
    )
    return Principal(int(row.id), int(row.tenant_id), row.slug, row.prefix, row.name)
