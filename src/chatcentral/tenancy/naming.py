"""Shop slugs and the PostgreSQL schema each shop's data lives in."""

from __future__ import annotations

import re

SCHEMA_PREFIX = "tenant_"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
_SCHEMA = re.compile(r"^tenant_[a-z0-9_]{1,48}$")


class InvalidSlug(ValueError):
    pass


def check_slug(slug: str) -> str:
    """Return `slug` if it is 1–48 lowercase letters, digits, `_` or `-` (not leading)."""
    if not _SLUG.match(slug):
        raise InvalidSlug(
            f"invalid slug {slug!r}: use 1-48 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return slug


def schema_for(slug: str) -> str:
    """`tenant_<slug>` with `-` turned into `_` so the name never needs escaping."""
    return SCHEMA_PREFIX + check_slug(slug).replace("-", "_")


def quoted_schema(schema: str) -> str:
    """The schema as a quoted SQL identifier, refusing anything that is not a tenant schema."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return f'"{schema}"'
