"""Moving the test shops between plans, straight in the central schema (the test shops
start on Básico)."""

from __future__ import annotations

from sqlalchemy import Engine, text


def on_plan(engine: Engine, code: str, slug: str | None = None) -> None:
    """Put the shop `slug` (every shop when None) on the plan `code`."""
    where = "" if slug is None else " WHERE slug = :slug"
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET plan_id = "
                f"(SELECT id FROM central.plans WHERE code = :code){where}"
            ),
            {"code": code, "slug": slug},
        )
