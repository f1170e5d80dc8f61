"""Who may open a shop's panel: one-time login links, sessions and the attempt limit.

A login link carries a random 256-bit token; only its SHA-256 is stored (as API keys
are: nothing to guess from the digest). It is valid for ten minutes and used once: the
row is claimed with `UPDATE … WHERE used_at IS NULL AND expires_at > now()`, so two
browsers racing on one link get one session between them. A session is another random
token in an HttpOnly cookie, stored hashed with its own CSRF token (the synchronizer
pattern); logging out deletes the row, so a copied cookie dies with it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Insert, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.models.central import PanelAttempt, PanelLogin, PanelSession, Tenant

LINK_VALID = timedelta(minutes=10)
SESSION_VALID = timedelta(days=14)
# Requests for a link allowed per window, per phone and per client address. An owner who
# mistypes twice is fine; a script walking through numbers is not.
ATTEMPT_WINDOW = timedelta(minutes=15)
PHONE_ATTEMPTS = 5
ADDRESS_ATTEMPTS = 20
TOKEN_MAX = 128  # longer is not one of ours; refused before hashing


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Session:
    id: int
    tenant_id: int
    phone: str
    csrf_token: str


async def admin_shops(conn: AsyncConnection, phone: str) -> list[int]:
    """Ids of the active shops that list `phone` (canonical E.164) as an admin."""
    query = (
        select(Tenant.id)
        .where(Tenant.active, Tenant.admin_phones.any_() == phone)
        .order_by(Tenant.id)
    )
    return [int(i) for i in (await conn.execute(query)).scalars()]


async def allow_attempt(conn: AsyncConnection, phone: str, address: str) -> bool:
    """Count this request for a link against its phone and its client address; False when
    either is over the limit (the attempt is still counted: hammering keeps it closed)."""
    buckets = {f"phone:{phone}": PHONE_ATTEMPTS, f"ip:{address}": ADDRESS_ATTEMPTS}
    # Old rows are dropped as new ones come, so the table holds one window's worth.
    await conn.execute(
        delete(PanelAttempt).where(
            PanelAttempt.bucket.in_(list(buckets)),
            PanelAttempt.created_at < func.now() - ATTEMPT_WINDOW,
        )
    )
    allowed = True
    for bucket, limit in buckets.items():
        seen = (
            await conn.execute(
                select(func.count()).where(
                    PanelAttempt.bucket == bucket,
                    PanelAttempt.created_at >= func.now() - ATTEMPT_WINDOW,
                )
            )
        ).scalar_one()
        if seen >= limit:
            allowed = False
    await conn.execute(insert(PanelAttempt), [{"bucket": bucket} for bucket in buckets])
    return allowed


def login_row(tenant_id: int, phone: str) -> tuple[str, Insert]:
    """A new one-time login token for this admin of this shop and the statement storing
    its digest: the token is returned once and never kept."""
    token = new_token()
    statement = insert(PanelLogin).values(
        tenant_id=tenant_id,
        phone=phone,
        token_hash=digest(token),
        expires_at=func.now() + LINK_VALID,
    )
    return token, statement


# Used and expired links and sessions are deleted as new ones are made, after a day (kept
# that long so a question about a recent login can still be answered from the table).
_KEEP = timedelta(days=1)


async def issue_link(conn: AsyncConnection, tenant_id: int, phone: str) -> str:
    await conn.execute(delete(PanelLogin).where(PanelLogin.expires_at < func.now() - _KEEP))
    token, statement = login_row(tenant_id, phone)
    await conn.execute(statement)
    return token


async def redeem_link(conn: AsyncConnection, token: str) -> tuple[str, Session] | None:
    """Use a login token once: a new session (its cookie token and row), or None when the
    token is unknown, used or expired, or its phone is no longer the shop's admin."""
    if not token or len(token) > TOKEN_MAX:
        return None
    claimed = (
        await conn.execute(
            update(PanelLogin)
            .where(
                PanelLogin.token_hash == digest(token),
                PanelLogin.used_at.is_(None),
                PanelLogin.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(PanelLogin.tenant_id, PanelLogin.phone)
        )
    ).first()
    if claimed is None or claimed.tenant_id not in await admin_shops(conn, claimed.phone):
        return None
    await conn.execute(delete(PanelSession).where(PanelSession.expires_at < func.now() - _KEEP))
    cookie = new_token()
    csrf = new_token()
    session_id = (
        await conn.execute(
            insert(PanelSession)
            .values(
                tenant_id=claimed.tenant_id,
                phone=claimed.phone,
                token_hash=digest(cookie),
                csrf_token=csrf,
                expires_at=func.now() + SESSION_VALID,
            )
            .returning(PanelSession.id)
        )
    ).scalar_one()
    return cookie, Session(int(session_id), int(claimed.tenant_id), claimed.phone, csrf)


async def session_of(conn: AsyncConnection, cookie: str) -> Session | None:
    """The live session this cookie names, if its phone is still one of the shop's admins
    (an admin removed with `tenant admin remove` is out at the next request)."""
    if not cookie or len(cookie) > TOKEN_MAX:
        return None
    row = (
        await conn.execute(
            select(
                PanelSession.id, PanelSession.tenant_id, PanelSession.phone, PanelSession.csrf_token
            )
            .join(Tenant, Tenant.id == PanelSession.tenant_id)
            .where(
                PanelSession.token_hash == digest(cookie),
                PanelSession.expires_at > func.now(),
                Tenant.active,
                Tenant.admin_phones.any_() == PanelSession.phone,
            )
        )
    ).first()
    if row is None:
        return None
    return Session(int(row.id), int(row.tenant_id), row.phone, row.csrf_token)


async def end_session(conn: AsyncConnection, session_id: int) -> None:
    await conn.execute(delete(PanelSession).where(PanelSession.id == session_id))


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF token."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())
