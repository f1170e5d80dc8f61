"""The shop's outgoing webhook endpoints (Premium): list with each one's last delivery,
add (the signing secret is in the answer, once), remove. Events and their signature are
described in `outgoing/events.py`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chatcentral.api.endpoint import Call, Endpoint
from chatcentral.api.problems import ApiProblem, FieldError, invalid, not_found, outside_plan
from chatcentral.config import ConfigError
from chatcentral.outgoing import endpoints
from chatcentral.outgoing.events import FEATURE
from chatcentral.tenancy.plans import plan_with


class WebhookOut(BaseModel):
    id: int
    url: str
    active: bool
    created_at: datetime
    last_status: str | None = Field(description="delivered or failed; null: never delivered")
    last_code: int | None = Field(description="the HTTP status of the last delivery")
    last_attempt_at: datetime | None
    last_error: str | None


class WebhookList(BaseModel):
    items: list[WebhookOut]


class WebhookNew(BaseModel):
    url: str = Field(max_length=2000, description="https:// (http only on 127.0.0.1)")


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="verifies X-Chatcentral-Signature (sha256=HMAC-SHA256 of the raw body); "
        "shown once"
    )


def _out(endpoint: endpoints.Endpoint) -> WebhookOut:
    return WebhookOut(**endpoint.__dict__)


async def _premium(call: Call) -> None:
    if not call.caller.shop.includes(FEATURE):
        raise outside_plan(FEATURE, await plan_with(call.conn, FEATURE))


async def list_webhooks(call: Call) -> WebhookList:
    """The shop's endpoints and how their last delivery went."""
    return WebhookList(items=[_out(e) for e in await endpoints.listing(call.conn)])


async def create_webhook(call: Call) -> WebhookCreated:
    """Add an endpoint: order.created and order.status_changed are POSTed to it."""
    await _premium(call)
    new = call.body(WebhookNew)
    assert call.settings is not None
    try:
        made = await endpoints.create(call.conn, call.settings, new.url)
    except endpoints.EndpointRefused as exc:
        error = FieldError(loc=["body", "url"], message=str(exc), type="value_error")
        raise invalid([error]) from None
    except ConfigError:  # no CHATCENTRAL_TOKEN_KEY to keep the secret with: the operator's
        raise ApiProblem(
            503, "not-configured", "Not configured", "this installation cannot store secrets"
        ) from None
    return WebhookCreated(**made.endpoint.__dict__, secret=made.secret)


async def delete_webhook(call: Call) -> WebhookList:
    """Remove an endpoint (events already queued for it are not sent)."""
    if not await endpoints.remove(call.conn, call.path["webhook_id"]):
        raise not_found(f"no webhook endpoint {call.path['webhook_id']} in this shop")
    return WebhookList(items=[_out(e) for e in await endpoints.listing(call.conn)])


ENDPOINTS = (
    Endpoint("GET", "/webhooks", list_webhooks, "The shop's webhook endpoints", "webhooks",
             response=WebhookList),
    Endpoint("POST", "/webhooks", create_webhook, "Add a webhook endpoint (Premium)",
             "webhooks", response=WebhookCreated, body=WebhookNew, status=201),
    Endpoint("POST", "/webhooks/{webhook_id:int}/delete", delete_webhook,
             "Remove a webhook endpoint", "webhooks", response=WebhookList, problems=(404,)),
)  # fmt: skip
