"""Outbound WhatsApp Cloud API message bodies, refused at build time if WhatsApp would reject them.

WhatsApp rejects an over-long list row title or a fourth reply button only once the request is
sent, and the customer is already waiting for an answer that never arrives. So every builder here
checks the limits first and raises `OutboundError` naming the element and the limit, at the line
that built it and in tests. The limits come from the "Size limits, verified" table in
`/work/shared/whatsapp-cloud-api.md` section 7. Characters are counted with `len()`.

The builders return the message part of the POST body (`{"type": ..., ...}`); `envelope()` adds
the recipient. `validate()` runs the same checks on a dict built elsewhere, and the builders call
it, so each limit is written once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BUTTONS_MAX",
    "BUTTONS_MIN",
    "BUTTON_ID_MAX",
    "BUTTON_TITLE_MAX",
    "CALLBACK_DATA_MAX",
    "FOOTER_MAX",
    "HEADER_TEXT_MAX",
    "INTERACTIVE_BODY_MAX",
    "LIST_BODY_MAX",
    "LIST_BUTTON_MAX",
    "LIST_ROWS_MAX",
    "LIST_SECTIONS_MAX",
    "LOCATION_BODY_MAX",
    "PHONE_DIGITS_MAX",
    "ROW_DESCRIPTION_MAX",
    "ROW_ID_MAX",
    "ROW_TITLE_MAX",
    "SECTION_TITLE_MAX",
    "STORED_KEY",
    "TEMPLATE_BODY_MAX",
    "TEMPLATE_BUTTON_TEXT_MAX",
    "TEMPLATE_LANGUAGE_RE",
    "TEMPLATE_NAME_RE",
    "TEMPLATE_PARAM_SPACES_MAX",
    "TEMPLATE_QUICK_REPLIES_MAX",
    "TEXT_BODY_MAX",
    "Button",
    "OutboundError",
    "Row",
    "Section",
    "envelope",
    "list_message",
    "location_request",
    "mark_read",
    "message_of",
    "paginate",
    "reply_buttons",
    "stored_image",
    "template",
    "template_param",
    "text",
    "validate",
    "with_image_link",
]

# Limits in characters (len()), from the "Size limits, verified" table.
TEXT_BODY_MAX = 4096
INTERACTIVE_BODY_MAX = 1024  # reply-button message body
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BUTTONS_MIN = 1
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10  # in total, across all sections
LIST_SECTIONS_MAX = 10
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
LIST_BUTTON_MAX = 20
LIST_BODY_MAX = 1024  # Meta's list page says 4096, its SDK docs 1024: use the safe one
LOCATION_BODY_MAX = 1024
CALLBACK_DATA_MAX = 512
TEMPLATE_QUICK_REPLIES_MAX = 3
# A template's body as the recipient reads it, parameters filled in (132005 "Translated
# text too long" beyond it); also the longest body text a template may be created with.
TEMPLATE_BODY_MAX = 1024
TEMPLATE_BUTTON_TEXT_MAX = 25  # a quick-reply button's text, when the template is created
# A body parameter may hold no new-line or tab and at most this many spaces in a row
# (132000/132018 "Param text cannot have new-line/tab characters or more than 4
# consecutive spaces").
TEMPLATE_PARAM_SPACES_MAX = 4
PHONE_DIGITS_MAX = 15  # E.164
TEMPLATE_NAME_RE = re.compile(r"[a-z0-9_]{1,512}")  # used with fullmatch
TEMPLATE_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")  # "es", "es_MX"; fullmatch

_SHOWN_MAX = 40  # longest value quoted in full in an error message
# An image header that names an object of the media store instead of a link: links
# expire, so the dispatcher makes one when it sends (`with_image_link`); never sent as is.
STORED_KEY = "stored_key"
_IMAGE_SOURCES = ("id", "link", STORED_KEY)


class OutboundError(ValueError):
    """An outbound message WhatsApp would reject; the message names the element and the limit."""


@dataclass(frozen=True)
class Button:
    """A reply button: `id` comes back in the customer's reply, `title` is what they tap."""

    id: str
    title: str


@dataclass(frozen=True)
class Row:
    """A list row: `id` comes back in the customer's reply; `description` is optional."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Section:
    """A group of list rows; `title` is required only when the list has several sections."""

    title: str | None
    rows: Sequence[Row]


# --- Builders ---------------------------------------------------------------------------------


def text(body: str, *, preview_url: bool = False) -> dict[str, Any]:
    """A plain text message; `preview_url` renders a preview of the first link."""
    return _validated({"type": "text", "text": {"preview_url": preview_url, "body": body}})


def reply_buttons(
    body: str,
    buttons: Sequence[Button],
    *,
    header: str | None = None,
    footer: str | None = None,
    image_key: str | None = None,
) -> dict[str, Any]:
    """An interactive message with 1 to 3 reply buttons; `image_key` (instead of a text
    `header`) heads it with that stored image, linked at send time."""
    if header is not None and image_key is not None:
        raise OutboundError("a message has one header: give a text header or an image, not both")
    interactive: dict[str, Any] = {"type": "button"}
    if image_key is not None:
        interactive["header"] = _stored_image(image_key)
    _add_frame(interactive, body, header, footer)
    interactive["action"] = {
        "buttons": [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in buttons]
    }
    return _validated({"type": "interactive", "interactive": interactive})


def list_message(
    body: str,
    button: str,
    sections: Sequence[Section],
    *,
    header: str | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    """An interactive list: `button` is the label that opens it; at most 10 rows in all."""
    interactive: dict[str, Any] = {"type": "list"}
    _add_frame(interactive, body, header, footer)
    interactive["action"] = {"button": button, "sections": [_section_dict(s) for s in sections]}
    return _validated({"type": "interactive", "interactive": interactive})


def location_request(body: str) -> dict[str, Any]:
    """An interactive message with a "send location" button."""
    return _validated(
        {
            "type": "interactive",
            "interactive": {
                "type": "location_request_message",
                "body": {"text": body},
                "action": {"name": "send_location"},
            },
        }
    )


def template(
    name: str,
    language: str,
    *,
    body_params: Sequence[str] = (),
    quick_reply_payloads: Sequence[str] = (),
) -> dict[str, Any]:
    """An approved template with text body parameters and up to 3 quick-reply payloads."""
    components: list[dict[str, Any]] = []
    if body_params:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]}
        )
    for index, payload in enumerate(quick_reply_payloads):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    body: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        body["components"] = components
    return _validated({"type": "template", "template": body})


def template_param(value: str) -> str:
    """`value` made acceptable as a template body parameter: line breaks become " · ",
    tabs and runs of spaces one space, and the ends are trimmed. Empty stays empty (the
    builder refuses it: give a placeholder such as "—")."""
    lines = [" ".join(line.split()) for line in value.splitlines()]
    return " · ".join(line for line in lines if line)


def paginate(
    rows: Sequence[Row],
    page: int,
    *,
    more_id: str,
    more_title: str = "Ver más",
    per_page: int = LIST_ROWS_MAX,
) -> tuple[list[Row], bool]:
    """Page `page` (from 0) of a long catalog, ending in a "Ver más" row while more follow.

    Returns (rows, has_more); every page is valid for `list_message`. Zero rows are refused,
    because a list message needs at least one row.
    """
    if not 2 <= per_page <= LIST_ROWS_MAX:
        raise OutboundError(
            f"per_page {per_page} is out of range; a page needs 2 to {LIST_ROWS_MAX} rows"
        )
    if not rows:
        raise OutboundError("nothing to paginate; a list message needs at least one row")
    more = Row(id=more_id, title=more_title)
    _check_row(_row_dict(more))
    if any(row.id == more_id for row in rows):
        raise OutboundError(f"more_id {_shown(more_id)} is also a row id; it would be ambiguous")
    last = last_page(len(rows), per_page)
    if not 0 <= page <= last:
        raise OutboundError(f"page {page} does not exist; {len(rows)} rows make pages 0 to {last}")
    start = page * (per_page - 1)
    if page == last:
        result, has_more = list(rows[start:]), False
    else:
        result, has_more = [*rows[start : start + per_page - 1], more], True
    _check_rows([_row_dict(row) for row in result])
    return result, has_more


def envelope(
    message: Mapping[str, Any],
    *,
    to: str | None = None,
    recipient: str | None = None,
    reply_to: str | None = None,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """The full POST body for `message`, sent to a phone (`to`) or a business-scoped user id.

    Give `to`, `recipient` or both (WhatsApp then uses `to`); a `to` without "+" gets one.
    """
    if to is None and recipient is None:
        raise OutboundError(
            "envelope has no recipient; give to (a phone) or recipient (a business-scoped user id)"
        )
    if "type" not in message:
        raise OutboundError("envelope message has no 'type'; pass a message from a builder")
    clashing = sorted(_ENVELOPE_KEYS & message.keys())
    if clashing:
        raise OutboundError(f"envelope message already has {', '.join(clashing)}; pass it bare")
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to is not None:
        body["to"] = to if to.startswith("+") else "+" + to
    if recipient is not None:
        body["recipient"] = recipient
    if reply_to is not None:
        body["context"] = {"message_id": reply_to}
    if callback_data is not None:
        body["biz_opaque_callback_data"] = callback_data
    body.update(message)
    return _validated(body)


def message_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The message part of a full POST body: what `envelope` was given."""
    return {key: value for key, value in body.items() if key not in _ENVELOPE_KEYS}


def stored_image(message: Mapping[str, Any]) -> str | None:
    """The store key of the message's image header (a message or a full POST body), if
    it names one rather than a link."""
    header = message.get("interactive", {}).get("header")
    if not isinstance(header, Mapping) or header.get("type") != "image":
        return None
    key = header.get("image", {}).get(STORED_KEY)
    return key if isinstance(key, str) else None


def with_image_link(message: Mapping[str, Any], link: str | None) -> dict[str, Any]:
    """The message with its stored image header pointing at `link`; with no link, without
    the header: the message still goes, only its picture is missing."""
    interactive: dict[str, Any] = {}
    for key, value in message["interactive"].items():
        if key != "header":
            interactive[key] = value
        elif link is not None:
            interactive[key] = {"type": "image", "image": {"link": link}}
    return _validated({**message, "interactive": interactive})


def mark_read(wamid: str, *, typing: bool = False) -> dict[str, Any]:
    """The POST body marking `wamid` (and earlier messages) read, optionally showing "typing…"."""
    _require_text("message id to mark read", wamid)
    body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


def validate(message: Mapping[str, Any]) -> None:
    """Raise OutboundError if a built message or full POST body breaks a WhatsApp limit.

    Unknown message types (and interactive types without builders here) pass untouched.
    """
    _check_envelope_fields(message)
    kind = message.get("type")
    checker = _MESSAGE_CHECKERS.get(kind) if isinstance(kind, str) else None
    if checker is not None:
        checker(message)


# --- Building helpers --------------------------------------------------------------------------


_ENVELOPE_KEYS = frozenset(
    {
        "messaging_product",
        "recipient_type",
        "to",
        "recipient",
        "context",
        "biz_opaque_callback_data",
    }
)


def _validated(message: dict[str, Any]) -> dict[str, Any]:
    validate(message)
    return message


def _add_frame(
    interactive: dict[str, Any], body: str, header: str | None, footer: str | None
) -> None:
    if header is not None:
        interactive["header"] = {"type": "text", "text": header}
    interactive["body"] = {"text": body}
    if footer is not None:
        interactive["footer"] = {"text": footer}


def _stored_image(key: str) -> dict[str, Any]:
    _require_text("stored image key", key)
    return {"type": "image", "image": {STORED_KEY: key}}


def _section_dict(section: Section) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if section.title is not None:
        result["title"] = section.title
    result["rows"] = [_row_dict(row) for row in section.rows]
    return result


def _row_dict(row: Row) -> dict[str, Any]:
    result: dict[str, Any] = {"id": row.id, "title": row.title}
    if row.description is not None:
        result["description"] = row.description
    return result


def last_page(count: int, per_page: int = LIST_ROWS_MAX) -> int:
    """The number of the last page `paginate` makes of `count` rows."""
    if count <= per_page:
        return 0
    # Every page but the last shows per_page - 1 rows; the last shows up to per_page.
    return -(-(count - per_page) // (per_page - 1))


# --- Checks (the single source of truth for every limit) ---------------------------------------


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN_MAX else value[: _SHOWN_MAX - 3] + "…")


def _require_text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise OutboundError(f"{what} must be a string, not {type(value).__name__}")
    if not value.strip():
        state = "blank" if value else "empty"
        raise OutboundError(f"{what} {_shown(value)} is {state}; WhatsApp requires text")
    return value


def _check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise OutboundError(
            f"{what} {_shown(value)} is {len(value)} characters; WhatsApp allows {limit}"
        )


def _check_text(what: str, value: object, limit: int) -> str:
    text_value = _require_text(what, value)
    _check_length(what, text_value, limit)
    return text_value


def _check_unique(what: str, values: Sequence[str], *, ignore_case: bool = False) -> None:
    seen: dict[str, str] = {}
    for value in values:
        key = value.strip().casefold() if ignore_case else value
        if key in seen:
            how = " (ignoring case)" if ignore_case else ""
            raise OutboundError(
                f"{what} {_shown(value)} repeats {_shown(seen[key])}; "
                f"WhatsApp requires unique {what}s{how}"
            )
        seen[key] = value


def _field(obj: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in obj:
        raise OutboundError(f"{what} is missing")
    return obj[key]


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OutboundError(f"{what} must be an object, not {type(value).__name__}")
    return value


def _sequence(value: object, what: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise OutboundError(f"{what} must be a list, not {type(value).__name__}")
    return value


def _check_envelope_fields(message: Mapping[str, Any]) -> None:
    if "to" in message:
        phone = _require_text("recipient phone", message["to"])
        digits = phone.removeprefix("+")
        if not phone.startswith("+") or not digits.isascii() or not digits.isdigit():
            raise OutboundError(f"recipient phone {_shown(phone)} must be '+' and digits only")
        if len(digits) > PHONE_DIGITS_MAX:
            raise OutboundError(
                f"recipient phone {_shown(phone)} has {len(digits)} digits; "
                f"E.164 allows {PHONE_DIGITS_MAX}"
            )
    if "recipient" in message:
        user_id = _require_text("recipient user id", message["recipient"])
        if any(ch.isspace() for ch in user_id):
            raise OutboundError(f"recipient user id {_shown(user_id)} contains whitespace")
    if "context" in message:
        context = _mapping(message["context"], "context")
        _require_text("context message_id", _field(context, "message_id", "context message_id"))
    if "biz_opaque_callback_data" in message:
        _check_text(
            "biz_opaque_callback_data", message["biz_opaque_callback_data"], CALLBACK_DATA_MAX
        )


def _check_text_message(message: Mapping[str, Any]) -> None:
    body = _mapping(_field(message, "text", "text message"), "text message")
    _check_text("text body", _field(body, "body", "text body"), TEXT_BODY_MAX)
    if not isinstance(body.get("preview_url", False), bool):
        raise OutboundError("text preview_url must be true or false")


def _check_interactive(message: Mapping[str, Any]) -> None:
    interactive = _mapping(_field(message, "interactive", "interactive message"), "interactive")
    kind = interactive.get("type")
    checker = _INTERACTIVE_CHECKERS.get(kind) if isinstance(kind, str) else None
    if checker is not None:
        checker(interactive)


def _check_body(interactive: Mapping[str, Any], what: str, limit: int) -> None:
    body = _mapping(_field(interactive, "body", what), what)
    _check_text(what, _field(body, "text", what), limit)


def _check_header(interactive: Mapping[str, Any], what: str, *, text_only: bool) -> None:
    if "header" not in interactive:
        return
    header = _mapping(interactive["header"], what)
    kind = header.get("type")
    if kind == "text":
        _check_text(what, _field(header, "text", what), HEADER_TEXT_MAX)
    elif text_only:
        raise OutboundError(f"{what} type {kind!r} is not allowed; WhatsApp allows only 'text'")
    elif kind == "image":
        _check_image(_mapping(_field(header, "image", f"{what} image"), f"{what} image"), what)


def _check_image(image: Mapping[str, Any], what: str) -> None:
    sources = [name for name in _IMAGE_SOURCES if name in image]
    if len(sources) != 1:
        raise OutboundError(f"{what} image needs exactly one of id, link or {STORED_KEY}")
    _require_text(f"{what} image {sources[0]}", image[sources[0]])


def _check_footer(interactive: Mapping[str, Any], what: str) -> None:
    if "footer" in interactive:
        footer = _mapping(interactive["footer"], what)
        _check_text(what, _field(footer, "text", what), FOOTER_MAX)


def _check_button_interactive(interactive: Mapping[str, Any]) -> None:
    _check_header(interactive, "button message header", text_only=False)
    _check_body(interactive, "button message body", INTERACTIVE_BODY_MAX)
    _check_footer(interactive, "button message footer")
    action = _mapping(_field(interactive, "action", "button message action"), "action")
    buttons = _sequence(_field(action, "buttons", "reply buttons"), "reply buttons")
    if not BUTTONS_MIN <= len(buttons) <= BUTTONS_MAX:
        raise OutboundError(
            f"reply buttons: {len(buttons)} given; WhatsApp allows {BUTTONS_MIN} to {BUTTONS_MAX}"
        )
    ids: list[str] = []
    titles: list[str] = []
    for item in buttons:
        button = _mapping(item, "reply button")
        if button.get("type") != "reply":
            raise OutboundError(f"reply button type {button.get('type')!r} must be 'reply'")
        reply = _mapping(_field(button, "reply", "reply button"), "reply button")
        ids.append(_check_text("button id", _field(reply, "id", "button id"), BUTTON_ID_MAX))
        titles.append(
            _check_text("button title", _field(reply, "title", "button title"), BUTTON_TITLE_MAX)
        )
    _check_unique("button id", ids)
    _check_unique("button title", titles, ignore_case=True)


def _check_list_interactive(interactive: Mapping[str, Any]) -> None:
    _check_header(interactive, "list header", text_only=True)
    _check_body(interactive, "list body", LIST_BODY_MAX)
    _check_footer(interactive, "list footer")
    action = _mapping(_field(interactive, "action", "list action"), "list action")
    _check_text("list button label", _field(action, "button", "list button label"), LIST_BUTTON_MAX)
    sections = _sequence(_field(action, "sections", "list sections"), "list sections")
    if not 1 <= len(sections) <= LIST_SECTIONS_MAX:
        raise OutboundError(
            f"list sections: {len(sections)} given; WhatsApp allows 1 to {LIST_SECTIONS_MAX}"
        )
    rows: list[Any] = []
    for number, item in enumerate(sections, start=1):
        section = _mapping(item, f"list section {number}")
        title = section.get("title")
        if title is not None:
            _check_text("list section title", title, SECTION_TITLE_MAX)
        elif len(sections) > 1:
            raise OutboundError(
                f"list section {number} has no title; WhatsApp requires one on every section "
                "when there is more than one"
            )
        section_rows = _sequence(_field(section, "rows", f"list section {number} rows"), "rows")
        if not section_rows:
            raise OutboundError(f"list section {number} has no rows; WhatsApp requires at least 1")
        rows.extend(section_rows)
    _check_rows(rows)


def _check_rows(rows: Sequence[Any]) -> None:
    """All the rows of one list message: 1 to 10 in total, each valid, ids unique."""
    if not 1 <= len(rows) <= LIST_ROWS_MAX:
        raise OutboundError(
            f"list rows: {len(rows)} in total across all sections; "
            f"WhatsApp allows 1 to {LIST_ROWS_MAX}"
        )
    _check_unique("list row id", [_check_row(row) for row in rows])


def _check_row(item: object) -> str:
    """One list row; returns its id."""
    row = _mapping(item, "list row")
    row_id = _check_text("list row id", _field(row, "id", "list row id"), ROW_ID_MAX)
    _check_text("list row title", _field(row, "title", "list row title"), ROW_TITLE_MAX)
    if row.get("description") is not None:
        _check_text("list row description", row["description"], ROW_DESCRIPTION_MAX)
    return row_id


def _check_location_interactive(interactive: Mapping[str, Any]) -> None:
    _check_body(interactive, "location request body", LOCATION_BODY_MAX)
    action = _mapping(_field(interactive, "action", "location request action"), "action")
    if action.get("name") != "send_location":
        raise OutboundError(
            f"location request action name {action.get('name')!r} must be 'send_location'"
        )


def _check_template(message: Mapping[str, Any]) -> None:
    body = _mapping(_field(message, "template", "template message"), "template")
    name = _field(body, "name", "template name")
    if not isinstance(name, str) or not TEMPLATE_NAME_RE.fullmatch(name):
        raise OutboundError(
            f"template name {name!r} must be 1 to 512 lowercase letters, digits or underscores"
        )
    language = _mapping(_field(body, "language", "template language"), "template language")
    code = _field(language, "code", "template language code")
    if not isinstance(code, str) or not TEMPLATE_LANGUAGE_RE.fullmatch(code):
        raise OutboundError(f"template language code {code!r} must look like 'es_MX' or 'es'")
    indexes: list[str] = []
    for item in _sequence(body.get("components", []), "template components"):
        component = _mapping(item, "template component")
        parameters = _sequence(component.get("parameters", []), "template parameters")
        if component.get("type") == "body":
            for param_item in parameters:
                param = _mapping(param_item, "template body parameter")
                if param.get("type") == "text":
                    _check_template_param(param.get("text"))
        elif component.get("type") == "button" and component.get("sub_type") == "quick_reply":
            indexes.append(_check_quick_reply(component, parameters))
    if len(indexes) > TEMPLATE_QUICK_REPLIES_MAX:
        raise OutboundError(
            f"template quick replies: {len(indexes)} given; "
            f"WhatsApp allows {TEMPLATE_QUICK_REPLIES_MAX}"
        )
    _check_unique("template quick reply index", indexes)


def _check_template_param(value: object) -> None:
    param = _require_text("template body parameter", value)
    if "\n" in param or "\r" in param or "\t" in param:
        raise OutboundError(
            f"template body parameter {_shown(param)} has a line break or tab; "
            "WhatsApp refuses them in parameters (use template_param())"
        )
    if " " * (TEMPLATE_PARAM_SPACES_MAX + 1) in param:
        raise OutboundError(
            f"template body parameter {_shown(param)} has more than "
            f"{TEMPLATE_PARAM_SPACES_MAX} spaces in a row; WhatsApp refuses it"
        )


def _check_quick_reply(component: Mapping[str, Any], parameters: Sequence[Any]) -> str:
    index = component.get("index")
    allowed = [str(i) for i in range(TEMPLATE_QUICK_REPLIES_MAX)]
    if index not in allowed:
        raise OutboundError(
            f"template quick reply index {index!r} must be one of {', '.join(allowed)}"
        )
    if len(parameters) != 1:
        raise OutboundError(f"template quick reply {index} needs exactly one payload parameter")
    param = _mapping(parameters[0], "template quick reply parameter")
    _require_text("template quick reply payload", param.get("payload"))
    return str(index)


_MessageCheck = Callable[[Mapping[str, Any]], None]

_MESSAGE_CHECKERS: dict[str, _MessageCheck] = {
    "text": _check_text_message,
    "interactive": _check_interactive,
    "template": _check_template,
}

_INTERACTIVE_CHECKERS: dict[str, _MessageCheck] = {
    "button": _check_button_interactive,
    "list": _check_list_interactive,
    "location_request_message": _check_location_interactive,
}
