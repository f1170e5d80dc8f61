"""Database access: engine, tenant binding, embedded server, migrations."""

from chatcentral.db.engine import TenantBinder, async_url, make_engine, make_sync_engine, plain_url

__all__ = ["TenantBinder", "async_url", "make_engine", "make_sync_engine", "plain_url"]
