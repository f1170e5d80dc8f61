"""Choose the database server: DATABASE_URL when set, the embedded one otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from chatcentral.config import Settings
from chatcentral.db.embedded import EmbeddedServer, start_embedded


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    embedded: EmbeddedServer | None = None


def resolve_database(settings: Settings) -> DatabaseTarget:
    """Return the URL to use, starting the embedded server when no DATABASE_URL is set."""
    if settings.database_url:
        return DatabaseTarget(url=settings.database_url)
    server = start_embedded(settings.chatcentral_data_dir)
    return DatabaseTarget(url=server.url, embedded=server)
