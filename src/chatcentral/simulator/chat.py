"""`chatcentral chat`: talk to a shop's bot from the terminal, as one of its customers.

In process (the default) the real app runs here with its outbox dispatcher, and a loopback
fake Cloud API receives the bot's replies. Against a running server (`--url`), signed
webhooks are posted there and the fake Cloud API serves on `--listen`, where that server must
send (its WHATSAPP_API_BASE_URL). Either way the bot has finished answering when the outbox
holds nothing pending for the customer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.app import create_app
from chatcentral.config import Settings
from chatcentral.db.engine import TenantBinder, make_engine, make_sync_engine
from chatcentral.models.central import Outbox, Tenant
from chatcentral.models.tenant import Customer, CustomerSession
from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of
from chatcentral.simulator.fake_cloud import Call, FakeCloud
from chatcentral.simulator.render import Option, Rendered, ReplyType, render
from chatcentral.simulator.webhooks import (
    contact,
    location_content,
    message,
    one_change,
    signed,
    text_content,
)
from chatcentral.tenancy.demo import ensure_demo_tenants

DEFAULT_TENANT = "demo"
DEFAULT_PHONE = "5215512345678"
DEFAULT_NAME = "Cliente de prueba"
DEFAULT_LISTEN = "127.0.0.1:8001"
TIMEOUT_S = 10.0

_POLL_S = 0.05


class ChatError(Exception):
    """The simulator cannot go on (unknown shop, no answer, refused webhook); one line."""


@dataclass(frozen=True)
class ShopInfo:
    """The shop being talked to, as registered in `central.tenants`."""

    id: int
    slug: str
    name: str
    phone_number_id: str
    display_phone: str
    schema: str


@dataclass(frozen=True)
class _Person:
    wa_id: str  # canonical, as the outbox keys them
    sender: str  # the `from` WhatsApp sends
    name: str


class ChatSession:
    """One customer chatting with one shop through signed Cloud API webhooks.

    Use as `async with ChatSession(settings, database_url) as chat: await chat.send_text("hola")`.
    Every send returns the outbound message bodies the bot sent back to this customer.
    With `admin=True` the person is the shop's first admin, and `as_customer=True` on a
    send speaks as the customer `phone`; what reached the other one is in `others`.
    """

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        tenant: str = DEFAULT_TENANT,
        phone: str = DEFAULT_PHONE,
        name: str = DEFAULT_NAME,
        url: str | None = None,
        listen: str | None = None,
        timeout: float = TIMEOUT_S,
        admin: bool = False,
    ) -> None:
        self.customer_name = name
        self.timeout = timeout
        self.wa_id, self._sender = _customer_ids(phone)
        self.admin = admin
        self._customer = _Person(self.wa_id, self._sender, name)
        self._me = self._customer  # the admin once the shop is known, in admin mode
        self.others: list[tuple[str, dict[str, Any]]] = []  # (wa_id, body) to the other one
        self.provisioned: list[str] = []  # what in-process start-up provisioned, to show
        self._settings = settings
        self._database_url = database_url
        self._slug = tenant
        self._remote = url
        self._listen = listen
        self._fake = FakeCloud()
        self._stack = AsyncExitStack()
        self._engine: AsyncEngine | None = None
        self._client: httpx.AsyncClient | None = None
        self._shop: ShopInfo | None = None
        self._webhook = "/webhook"
        self._secret = ""
        self._clock = 0
        self._offer: tuple[Rendered, str | None] | None = None  # options, their message's wamid

    async def __aenter__(self) -> ChatSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def shop(self) -> ShopInfo:
        if self._shop is None:
            raise ChatError("the chat session is not started")
        return self._shop

    @property
    def customer_wa_id(self) -> str:
        return self._customer.wa_id

    @property
    def cloud_url(self) -> str:
        """Base URL of the fake Cloud API receiving the bot's replies."""
        return self._fake.base_url

    @property
    def options(self) -> list[Option]:
        """The options of the bot's latest interactive reply (empty when there is none)."""
        return list(self._offer[0].options) if self._offer else []

    async def start(self) -> None:
        """Find the shop, start the fake Cloud API and (in process) the app; see the class."""
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop the app, the fake Cloud API and the database pool."""
        await self._stack.aclose()

    async def send_text(self, text: str, *, as_customer: bool = False) -> list[dict[str, Any]]:
        """The customer (or, in admin mode, the admin) types `text`."""
        return await self._send(text_content(text), self._customer if as_customer else None)

    async def choose(self, number: int) -> list[dict[str, Any]]:
        """The customer taps option `number` of the bot's latest list or buttons."""
        if self._offer is None:
            raise ChatError("the bot has offered no options to choose from")
        rendered, wamid = self._offer
        if not 1 <= number <= len(rendered.options) or rendered.reply_type is None:
            raise ChatError(f"there is no option {number}; choose 1 to {len(rendered.options)}")
        option = rendered.options[number - 1]
        business = digits(self.shop.display_phone)
        return await self._send(interactive_reply(option, rendered.reply_type, wamid, business))

    async def send_location(
        self, lat: float, lng: float, name: str | None = None, address: str | None = None
    ) -> list[dict[str, Any]]:
        """The customer shares a location (a pinned place when `name`/`address` are given)."""
        return await self._send(location_content(lat, lng, name, address))

    async def send_image(self, media_id: str, caption: str | None = None) -> list[dict[str, Any]]:
        """The customer sends a photo (Meta keeps the media; the webhook carries its id)."""
        # Meta keeps the bytes: a relay to the shop's staff downloads them from the fake.
        content = f"photo {media_id}".encode()
        self._fake.put_media(media_id, content, "image/jpeg")
        # Meta's hash of the bytes, base64, as the media job checks it.
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        image: dict[str, Any] = {"mime_type": "image/jpeg", "sha256": digest, "id": media_id}
        if caption:
            image["caption"] = caption
        return await self._send({"type": "image", "image": image})

    # --- Start-up ------------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._remote is None and self._listen is not None:
            raise ChatError("--listen only applies with --url")
        port = 0
        if self._remote is not None:
            self._webhook = _webhook_url(self._remote)
            port = _listen_port(self._listen)
            self._secret = _secret_of(self._settings)
        else:
            self.provisioned = _provision_demo(self._database_url, self._settings)
        self._engine = make_engine(self._database_url, self._settings)
        self._stack.push_async_callback(self._engine.dispose)
        self._shop = await self._find_shop(self._engine)
        self._clock = await self._last_timestamp(self._engine)
        try:
            cloud_url = self._fake.start(port)
        except OSError as exc:
            raise ChatError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        self._stack.callback(self._fake.stop)
        if self._remote is not None:
            self._client = await self._stack.enter_async_context(httpx.AsyncClient(timeout=30))
            await self._check_server(self._client)
            return
        settings = _local_settings(self._settings, cloud_url)
        self._secret = _secret_of(settings)
        app = create_app(settings, self._engine)
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        self._client = await self._stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://chatcentral.local")
        )

    async def _check_server(self, client: httpx.AsyncClient) -> None:
        health = self._webhook.removesuffix("/webhook") + "/healthz"
        try:
            (await client.get(health)).raise_for_status()
        except httpx.HTTPError as exc:
            raise ChatError(f"cannot reach {health}: {exc or type(exc).__name__}") from None

    async def _find_shop(self, engine: AsyncEngine) -> ShopInfo:
        query = select(
            Tenant.id,
            Tenant.slug,
            Tenant.name,
            Tenant.phone_number_id,
            Tenant.display_phone,
            Tenant.schema_name,
            Tenant.active,
            Tenant.admin_phones,
        ).where(Tenant.slug == self._slug)
        async with engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise ChatError(f"no tenant with slug {self._slug!r}")
        if not row.active:
            raise ChatError(f"tenant {self._slug!r} is deactivated (chatcentral tenant activate)")
        if self.admin:
            if not row.admin_phones:
                raise ChatError(f"tenant {self._slug!r} has no admin phone (tenant admin add)")
            wa_id, sender = _customer_ids(row.admin_phones[0])
            self._me = _Person(wa_id, sender, "Admin")
            self.wa_id, self._sender = wa_id, sender
        return ShopInfo(*row[:6])

    async def _last_timestamp(self, engine: AsyncEngine) -> int:
        # An earlier chat with this customer may be ahead of the clock; a message older than
        # the session's newest is recorded as stale and never answered.
        query = (
            select(func.max(CustomerSession.last_message_at))
            .select_from(CustomerSession)
            .join(Customer, Customer.id == CustomerSession.customer_id)
            .where(Customer.wa_id == self.wa_id)
        )
        async with engine.connect() as conn:
            tenant = await TenantBinder.bind(conn, self.shop.schema)
            last = (await tenant.execute(query)).scalar()
        return int(last.timestamp()) if last is not None else 0

    # --- One exchange --------------------------------------------------------------------------

    async def _send(
        self, content: dict[str, Any], person: _Person | None = None
    ) -> list[dict[str, Any]]:
        if self._client is None:
            raise ChatError("the chat session is not started")
        speaker = person or self._me
        self._clock = max(int(time.time()), self._clock + 1)
        item = message(speaker.sender, f"wamid.SIM{uuid.uuid4().hex.upper()}", self._clock, content)
        body = one_change(
            self.shop.phone_number_id,
            contacts=[contact(speaker.sender, speaker.name)],
            messages=[item],
            display_phone=digits(self.shop.display_phone),
        )
        raw, headers = signed(body, self._secret)
        calls_before = len(self._fake.calls())
        row_before = await self._last_outbox_id()
        try:
            response = await self._client.post(self._webhook, content=raw, headers=headers)
        except httpx.TransportError as exc:
            raise ChatError(f"cannot reach {self._webhook}: {exc or type(exc).__name__}") from None
        if response.status_code != 200:
            hint = (
                " (WHATSAPP_APP_SECRET must be the server's)" if response.status_code == 401 else ""
            )
            raise ChatError(f"the server answered {response.status_code}{hint}")
        await self._settled(row_before)
        arrived = [call for call in self._fake.calls()[calls_before:] if self._is_reply(call)]
        calls = [call for call in arrived if _to(call) == speaker.wa_id]
        self.others = [(_to(call), call.body) for call in arrived if _to(call) != speaker.wa_id]
        if speaker is self._me:
            self._remember_options(calls)
        return [call.body for call in calls]

    async def _settled(self, row_before: int) -> None:
        """Wait until nothing is pending for this customer; raise on a failed reply."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while (pending := await self._pending()) > 0:
            if loop.time() >= deadline:
                hint = ""
                if self._remote is not None:
                    hint = f"; does the server run with WHATSAPP_API_BASE_URL={self.cloud_url}?"
                raise ChatError(
                    f"the bot did not finish answering within {self.timeout:g} s "
                    f"({pending} sends still pending in the outbox{hint})"
                )
            await asyncio.sleep(_POLL_S)
        failure = await self._failure_since(row_before)
        if failure is not None:
            raise ChatError(f"the bot's reply could not be sent: {failure}")

    def _outbox_rows(self) -> ColumnElement[bool]:
        people = {self._me.wa_id, self._customer.wa_id}
        return (Outbox.tenant_id == self.shop.id) & Outbox.recipient.in_(people)

    async def _pending(self) -> int:
        query = (
            select(func.count())
            .select_from(Outbox)
            .where(self._outbox_rows(), Outbox.status == "pending")
        )
        return int(await self._scalar(query) or 0)

    async def _failure_since(self, row_before: int) -> str | None:
        query = (
            select(func.coalesce(Outbox.last_error, "unknown error"))
            .where(
                self._outbox_rows(),
                Outbox.id > row_before,
                Outbox.status == "failed",
                Outbox.payload["status"].astext.is_distinct_from("read"),  # not a mark-read
            )
            .order_by(Outbox.id)
            .limit(1)
        )
        failure = await self._scalar(query)
        return str(failure) if failure is not None else None

    async def _last_outbox_id(self) -> int:
        return int(await self._scalar(select(func.coalesce(func.max(Outbox.id), 0))) or 0)

    async def _scalar(self, query: Any) -> Any:
        assert self._engine is not None
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    def _is_reply(self, call: Call) -> bool:
        """A message the bot sent one of the people of this chat (not a mark-read, not a
        refused attempt)."""
        return (
            not call.is_mark_read
            and call.failed_with is None
            and call.phone_number_id == self.shop.phone_number_id
            and _to(call) in {self._me.wa_id, self._customer.wa_id}
        )

    def _remember_options(self, calls: list[Call]) -> None:
        if not calls:
            return  # no answer (a reaction, say): the last menu still stands
        offer = None
        for call in calls:
            rendered = render(call.body)
            if rendered.options:
                offer = (rendered, call.wamid)
        self._offer = offer


def interactive_reply(
    option: Option, reply_type: ReplyType, context_id: str | None, business_phone: str
) -> dict[str, Any]:
    """The `messages[]` fields of a customer tapping `option` (a list row or a button)."""
    reply: dict[str, Any] = {"id": option.reply_id, "title": option.title}
    if reply_type == "list_reply" and option.description:
        reply["description"] = option.description
    message: dict[str, Any] = {
        "type": "interactive",
        "interactive": {"type": reply_type, reply_type: reply},
    }
    if context_id:
        message["context"] = {"from": business_phone, "id": context_id}
    return message


# --- Helpers -------------------------------------------------------------------------------------


def _customer_ids(phone: str) -> tuple[str, str]:
    """(canonical wa_id, the `from` WhatsApp sends): `5215512345678` is stored as `52…`."""
    try:
        wa_id = wa_id_of(normalize_phone(phone))
    except InvalidPhone as exc:
        raise ChatError(str(exc)) from None
    sender = digits(phone)
    return wa_id, sender if len(sender) > 10 else wa_id


def _to(call: Call) -> str:
    return str(call.body.get("to", "")).removeprefix("+")


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _provision_demo(database_url: str, settings: Settings) -> list[str]:
    engine = make_sync_engine(database_url, settings)
    try:
        return ensure_demo_tenants(engine)
    finally:
        engine.dispose()


def _local_settings(settings: Settings, cloud_url: str) -> Settings:
    """In process the simulator signs and checks its own webhooks: missing secrets are made
    up, so `chatcentral chat` works without a .env; replies go to the fake Cloud API."""
    update: dict[str, Any] = {"whatsapp_api_base_url": cloud_url}
    for name in ("whatsapp_app_secret", "whatsapp_verify_token", "whatsapp_access_token"):
        value: SecretStr | None = getattr(settings, name)
        if value is None or not value.get_secret_value():
            update[name] = SecretStr(secrets.token_urlsafe(24))
    return settings.model_copy(update=update)


def _secret_of(settings: Settings) -> str:
    secret = settings.whatsapp_app_secret
    if secret is None or not secret.get_secret_value():
        raise ChatError("WHATSAPP_APP_SECRET is not set; with --url it must be the server's")
    return secret.get_secret_value()


def _listen_port(listen: str | None) -> int:
    host, colon, port = (listen or DEFAULT_LISTEN).rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ChatError(f"--listen {listen!r} must look like {DEFAULT_LISTEN}")
    if host not in ("127.0.0.1", "localhost"):
        raise ChatError("--listen: the fake Cloud API serves on 127.0.0.1 only")
    return int(port)


def _webhook_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ChatError(f"--url {url!r} must be an http(s) URL")
    base = url.rstrip("/")
    return base if base.endswith("/webhook") else base + "/webhook"
