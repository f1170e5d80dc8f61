"""Pydantic models for the WhatsApp Cloud API webhook POST body.

Meta adds message types, status values, webhook fields and object keys without notice, and
a webhook we fail to take is retried and then lost. So the models are tolerant by
construction: every model keeps unknown keys (`extra="allow"`), `type` and `status` are
plain strings, and a change's `value` stays a raw dict until its `field` is known.

Parsing is layered so that one bad part never hides the rest: `parse_envelope` checks the
outer shape, `parse_messages_value` one `messages` change, and `parse_message` /
`parse_status` one item each. Each layer raises its own `ValueError` subclass with a
one-line message, so the caller can record exactly what it could not read.

What PostgreSQL would refuse is settled here, once, not discovered by an insert: the
envelope's text is made storable (NUL and lone surrogates become U+FFFD), and the item
models bound what lands in typed or indexed columns (timestamps, error codes, wamids).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Annotated, Any, NoReturn

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    StringConstraints,
    ValidationError,
)

WHATSAPP_OBJECT = "whatsapp_business_account"


class InvalidEnvelope(ValueError):
    """The webhook body is not a Cloud API envelope (not JSON, or entries/changes malformed)."""


class InvalidChange(ValueError):
    """A `messages` change value cannot be read, e.g. no usable `metadata.phone_number_id`."""


class InvalidItem(ValueError):
    """One message or status item cannot be read; the others in its change are unaffected."""


def _int_to_str(value: Any) -> Any:
    # IDs are strings, but some senders emit them as JSON numbers. Only integers are
    # accepted: a float ID has already lost digits and would route to the wrong tenant.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _reject_bool(value: Any) -> Any:
    # Lax pydantic reads True as 1; a boolean timestamp or coordinate is garbage, not 1.
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number here")
    return value


IdStr = Annotated[str, BeforeValidator(_int_to_str)]
"""A string ID that may arrive as a JSON integer."""

# The last second Python's datetime can represent (9999-12-31T23:59:59Z): anything later,
# or before 1970, is not a time Meta could mean and would fail `datetime.fromtimestamp`.
MAX_TIMESTAMP = 253_402_300_799

Timestamp = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0, le=MAX_TIMESTAMP)]
"""Unix seconds; Meta sends them as a string of digits."""

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An integer that fits a PostgreSQL `integer` column."""

# Wamids and senders are keys of unique btree indexes, whose entries cannot exceed 2,704
# bytes: 512 characters (2,048 bytes at most in UTF-8) leaves room for the status beside
# a wamid. Real wamids are under 100 characters, senders under 40, statuses a word.
WamidStr = Annotated[str, StringConstraints(max_length=512)]
StatusStr = Annotated[str, StringConstraints(max_length=64)]
SenderStr = Annotated[str, StringConstraints(max_length=512)]
SenderId = Annotated[IdStr, StringConstraints(max_length=512)]

Coordinate = Annotated[FiniteFloat, BeforeValidator(_reject_bool)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- Envelope -------------------------------------------------------------------------------


class Change(_Tolerant):
    """One change; `value` stays raw because its shape depends on `field`."""

    field: str
    value: dict[str, Any]


class Entry(_Tolerant):
    """One entry; `id` is the WhatsApp Business Account ID."""

    id: IdStr
    changes: list[Change]


class WebhookEnvelope(_Tolerant):
    """The whole POST body. Meta batches: iterate every entry and every change."""

    object: str
    entry: list[Entry]


# --- Shared pieces --------------------------------------------------------------------------


class ErrorDetail(_Tolerant):
    """An error Meta attaches to a change, a message or a status."""

    code: int
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] | None = None
    href: str | None = None


class Profile(_Tolerant):
    """The user's WhatsApp profile as shown to the business."""

    name: str | None = None


class Contact(_Tolerant):
    """A `contacts[]` entry of a change: who sent (or received) the items in it."""

    profile: Profile | None = None
    wa_id: IdStr | None = None
    # Business-scoped user ID (BSUID): present since 2026 even when wa_id is withheld.
    user_id: str | None = None
    parent_user_id: str | None = None

    @property
    def name(self) -> str | None:
        """The profile name, if Meta sent one."""
        return self.profile.name if self.profile is not None else None


class Metadata(_Tolerant):
    """The business phone number the change belongs to; tenants are routed on its ID."""

    display_phone_number: IdStr | None = None
    phone_number_id: IdStr


# --- Inbound message bodies -----------------------------------------------------------------


class Context(_Tolerant):
    """What the message replies to, or whether it was forwarded."""

    from_: IdStr | None = Field(default=None, alias="from")
    id: str | None = None
    forwarded: bool | None = None
    frequently_forwarded: bool | None = None
    referred_product: dict[str, Any] | None = None


class Text(_Tolerant):
    """A plain text message."""

    body: str


class Reply(_Tolerant):
    """A tapped reply button or a chosen list row."""

    id: str
    title: str
    description: str | None = None


class Interactive(_Tolerant):
    """A reply to an interactive message (buttons, list, or a Flow's `nfm_reply`)."""

    type: str
    button_reply: Reply | None = None
    list_reply: Reply | None = None
    nfm_reply: dict[str, Any] | None = None


class Button(_Tolerant):
    """A template quick-reply tap."""

    payload: str | None = None
    text: str | None = None


class Location(_Tolerant):
    """A shared location; name, address and url only come with a chosen place."""

    latitude: Coordinate
    longitude: Coordinate
    name: str | None = None
    address: str | None = None
    url: str | None = None


class Media(_Tolerant):
    """Image, audio, video, document or sticker; download it by `id` (sha256 is base64)."""

    id: IdStr | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    url: str | None = None
    voice: bool | None = None
    animated: bool | None = None


class Reaction(_Tolerant):
    """A reaction to a message; an empty or missing emoji removes the reaction."""

    message_id: str | None = None
    emoji: str | None = None


class OrderItem(_Tolerant):
    """One catalog line of an order; the price is a Decimal because money is never float."""

    product_retailer_id: IdStr
    quantity: int
    item_price: Decimal
    currency: str


class Order(_Tolerant):
    """A cart sent from the catalog."""

    catalog_id: IdStr | None = None
    text: str | None = None
    product_items: list[OrderItem] = Field(default_factory=list)


class InboundMessage(_Tolerant):
    """One `messages[]` item: a message a user sent to the business."""

    id: WamidStr
    type: str
    timestamp: Timestamp
    # Missing for users with a WhatsApp username; key customers on from_user_id instead.
    from_: SenderId | None = Field(default=None, alias="from")
    from_user_id: SenderStr | None = None
    context: Context | None = None
    errors: list[ErrorDetail] = Field(default_factory=list)
    text: Text | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    location: Location | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    contacts: list[dict[str, Any]] | None = None
    system: dict[str, Any] | None = None
    unsupported: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None

    def _reply(self) -> Reply | None:
        if self.interactive is None:
            return None
        return self.interactive.button_reply or self.interactive.list_reply

    @property
    def reply_id(self) -> str | None:
        """The id of a tapped button or list row, or a template quick reply's payload."""
        reply = self._reply()
        if reply is not None:
            return reply.id
        return self.button.payload if self.button is not None else None

    @property
    def text_body(self) -> str | None:
        """What the user wrote or the label they tapped."""
        if self.text is not None:
            return self.text.body
        reply = self._reply()
        if reply is not None:
            return reply.title
        return self.button.text if self.button is not None else None

    @property
    def media(self) -> Media | None:
        """The attached media object, whatever its kind."""
        for media in (self.image, self.audio, self.video, self.document, self.sticker):
            if media is not None:
                return media
        return None


class StatusError(ErrorDetail):
    """An error on a status; its code is stored in an `integer` column."""

    code: Int32


class StatusUpdate(_Tolerant):
    """One `statuses[]` item: delivery news about a message the business sent."""

    id: WamidStr
    status: StatusStr
    timestamp: Timestamp
    # recipient_id may be omitted when the message was sent to a BSUID.
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    biz_opaque_callback_data: str | None = None
    errors: list[StatusError] = Field(default_factory=list)
    conversation: dict[str, Any] | None = None
    pricing: dict[str, Any] | None = None

    @property
    def error_code(self) -> int | None:
        """The first error's code, e.g. 131049 on a failed send."""
        return self.errors[0].code if self.errors else None


class MessagesValue(_Tolerant):
    """The value of a `messages` change; items stay raw so each is parsed on its own."""

    messaging_product: str | None = None
    metadata: Metadata
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    statuses: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[ErrorDetail] = Field(default_factory=list)


# --- Parsing --------------------------------------------------------------------------------


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    more = error.error_count() - 1
    return _one_line(f"{where}: {first['msg']}" + (f" (and {more} more)" if more else ""))


def _reject_constant(name: str) -> NoReturn:
    # NaN and Infinity are Python extensions, not JSON.
    raise ValueError(f"{name} is not valid JSON")


def _finite_or_text(literal: str) -> float | str:
    # json.loads reads 1e400 as inf, which PostgreSQL's jsonb refuses: keep what was sent.
    number = float(literal)
    return number if math.isfinite(number) else literal


# JSON may carry what PostgreSQL cannot store: NUL (text and jsonb refuse it) and lone
# UTF-16 surrogates (not encodable as UTF-8). Both can only arrive as \u escapes, since
# the body is strict UTF-8, so the raw bytes say whether the parsed body needs a walk.
# _ESCAPE_HINT is a plain scan; valid pairs (how Meta sends emoji) also match it, so
# _UNSTORABLE_ESCAPE then looks for a NUL or a surrogate that is not half of a pair. Its
# last branch catches an escaped backslash before a pair-looking escape, the one text
# that could hide a lone low surrogate from the lookbehind; it may fire needlessly, never
# miss.
_ESCAPE_HINT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE_ESCAPE = re.compile(
    rb"\\(?:u0000"
    rb"|u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|u[dD][c-fC-F](?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F])"
    rb"|\\u[dD][89abAB])"
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _make_storable(data: Any) -> Any:
    """Replace every NUL and lone surrogate, in keys too, by U+FFFD (so a reader sees that
    something was there). In place and without recursion: the body is ours, fresh from
    json.loads, and may be nested as deeply as json.loads allows."""
    if isinstance(data, str):
        return _UNSTORABLE.sub("\ufffd", data)
    pending = [data]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = _UNSTORABLE.sub("\ufffd", item)
                elif isinstance(item, list | dict):
                    pending.append(item)
        elif isinstance(node, dict):
            for key in list(node):
                item = node[key]
                if isinstance(item, str):
                    item = _UNSTORABLE.sub("\ufffd", item)
                elif isinstance(item, list | dict):
                    pending.append(item)
                clean = _UNSTORABLE.sub("\ufffd", key)
                if clean != key:
                    del node[key]
                node[clean] = item
    return data


def storable_text(text: str) -> str:
    """`text` without what PostgreSQL refuses (for strings not from a parsed body)."""
    return _UNSTORABLE.sub("\ufffd", text)


def parse_envelope(body: bytes) -> WebhookEnvelope:
    """Read a webhook POST body; raise InvalidEnvelope if it is not a Cloud API envelope."""
    try:
        data = json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_or_text
        )
        if _ESCAPE_HINT.search(body) and _UNSTORABLE_ESCAPE.search(body):
            data = _make_storable(data)
    # ValueError covers bad UTF-8, bad JSON and over-long integers; RecursionError covers
    # absurd nesting, which an attacker can send cheaply.
    except (ValueError, RecursionError) as exc:
        raise InvalidEnvelope(_one_line(f"body is not UTF-8 JSON: {exc}")) from exc
    if not isinstance(data, dict):
        raise InvalidEnvelope(f"body is a JSON {type(data).__name__}, not an object")
    if data.get("object") != WHATSAPP_OBJECT:
        raise InvalidEnvelope(f"'object' is not {WHATSAPP_OBJECT!r}")
    if not isinstance(data.get("entry"), list):
        raise InvalidEnvelope("'entry' is missing or not a list")
    try:
        return WebhookEnvelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidEnvelope(_describe(exc)) from exc


def parse_messages_value(value: dict[str, Any]) -> MessagesValue:
    """Read the value of a `messages` change; raise InvalidChange if it cannot be routed."""
    try:
        return MessagesValue.model_validate(value)
    except ValidationError as exc:
        raise InvalidChange(_describe(exc)) from exc


def parse_message(raw: dict[str, Any]) -> InboundMessage:
    """Read one `messages[]` item; raise InvalidItem if it or a body it carries is malformed."""
    try:
        return InboundMessage.model_validate(raw)
    except ValidationError as exc:
        raise InvalidItem(_describe(exc)) from exc


def parse_status(raw: dict[str, Any]) -> StatusUpdate:
    """Read one `statuses[]` item; raise InvalidItem if it is malformed."""
    try:
        return StatusUpdate.model_validate(raw)
    except ValidationError as exc:
        raise InvalidItem(_describe(exc)) from exc


def contact_for(value: MessagesValue, message: InboundMessage) -> Contact | None:
    """The `contacts[]` entry of the message's sender (by BSUID or wa_id), if any."""
    for contact in value.contacts:
        if message.from_user_id is not None and contact.user_id == message.from_user_id:
            return contact
        if message.from_ is not None and contact.wa_id == message.from_:
            return contact
    # Meta says wa_id and `from` may differ; a lone contact can only be the sender.
    return value.contacts[0] if len(value.contacts) == 1 else None
