"""psycopg's cache of converted query texts holds every shop's hot-path statements: with its
own 128 entries, texts cycling through more than that were parsed again at every run."""

from __future__ import annotations

from psycopg import _queries as psycopg_queries
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.db.driver import driver_of
from chatcentral.db.engine import QUERY_TEXTS_CACHED


async def test_more_texts_than_psycopgs_own_cache_are_converted_once(
    async_engine: AsyncEngine,
) -> None:
    texts = [f"SELECT %(n)s::int + {n} AS shop_{n}".encode() for n in range(300)]
    async with async_engine.connect() as conn:
        pg = await driver_of(conn)
        for _ in range(2):
            for text in texts:
                await pg.execute(text, {"n": 1})
        cache = psycopg_queries._query2pg.cache_info()
        before = cache.hits
        for text in texts:
            await pg.execute(text, {"n": 1})
        after = psycopg_queries._query2pg.cache_info()
    assert after.maxsize == QUERY_TEXTS_CACHED
    assert after.hits - before == len(texts)
