"""The shipped templates in a shop's WhatsApp Business Account: submitting them for
review (`chatcentral templates sync`) and reading what Meta decided (`templates status`).

Each shop sends a template under its own name and language when it chose them
(`settings.templates`), so those are what is submitted and looked up. A template that
already exists in that language is reported, not treated as a failure: sync can be run
again at any time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from chatcentral.config import Settings
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.notifications.templates import TemplateSpec, for_shop, shipped_templates
from chatcentral.tenancy.secrets import token_for
from chatcentral.tenancy.waba import ShopAccount, shop_account
from chatcentral.whatsapp.templates_api import TemplateApiError, TemplatesApi


class NotConfigured(Exception):
    """The shop cannot reach its templates yet; the message names the fix."""


@dataclass(frozen=True)
class Synced:
    key: str
    name: str
    language: str
    outcome: str  # "submitted", "exists" or "failed"
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


@dataclass(frozen=True)
class Reviewed:
    key: str
    name: str
    language: str
    status: str  # Meta's (APPROVED, PENDING, REJECTED, …), or NOT SUBMITTED
    detail: str = ""

    @property
    def approved(self) -> bool:
        return self.status == "APPROVED"


def sync_templates(
    engine: Engine, settings: Settings, slug: str, *, transport: httpx.BaseTransport | None = None
) -> list[Synced]:
    """Submit every shipped template to the shop's WABA; one result per template."""
    shop, waba_id, token = _target(engine, settings, slug)
    results: list[Synced] = []
    with TemplatesApi(
        settings.whatsapp_api_base_url, settings.whatsapp_api_version, token, transport=transport
    ) as api:
        for key, spec in _templates(shop):
            try:
                submitted = api.submit(waba_id, spec.creation_body())
            except TemplateApiError as exc:
                outcome = "exists" if exc.already_exists else "failed"
                detail = "already submitted in this language" if exc.already_exists else str(exc)
                results.append(Synced(key, spec.name, spec.language, outcome, detail))
                continue
            detail = submitted.status + (f" (id {submitted.id})" if submitted.id else "")
            results.append(Synced(key, spec.name, spec.language, "submitted", detail))
    return results


def template_statuses(
    engine: Engine, settings: Settings, slug: str, *, transport: httpx.BaseTransport | None = None
) -> list[Reviewed]:
    """What Meta says of each shipped template, in the language the shop sends it."""
    shop, waba_id, token = _target(engine, settings, slug)
    results: list[Reviewed] = []
    with TemplatesApi(
        settings.whatsapp_api_base_url, settings.whatsapp_api_version, token, transport=transport
    ) as api:
        for key, spec in _templates(shop):
            found = [t for t in api.find(waba_id, spec.name) if t.language == spec.language]
            if not found:
                results.append(
                    Reviewed(
                        key,
                        spec.name,
                        spec.language,
                        "NOT SUBMITTED",
                        f"run: chatcentral templates sync {slug}",
                    )
                )
                continue
            for template in found:
                detail = template.rejected_reason or ""
                if detail in ("", "NONE"):
                    detail = ""
                results.append(Reviewed(key, spec.name, spec.language, template.status, detail))
    return results


def _target(engine: Engine, settings: Settings, slug: str) -> tuple[ShopAccount, str, str]:
    shop = shop_account(engine, slug)
    if not shop.waba_id:
        raise NotConfigured(
            f"shop {slug!r} has no WhatsApp Business Account id; set it with "
            f"`chatcentral tenant set {slug} --waba-id ID`"
        )
    token = token_for(settings, shop.access_token_encrypted)
    if token is None:
        raise NotConfigured(
            f"shop {slug!r} has no Graph API token: set WHATSAPP_ACCESS_TOKEN "
            "or give the shop its own (tenant create --access-token-env)"
        )
    return shop, shop.waba_id, token


def _templates(shop: ShopAccount) -> Iterator[tuple[str, TemplateSpec]]:
    flow_settings, _ = effective(shipped_flow(shop.flow), shop.settings)
    for key in shipped_templates():
        yield key, for_shop(key, flow_settings.templates)
