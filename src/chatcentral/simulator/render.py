"""What a customer's phone would show for an outbound Cloud API message, as terminal lines.

`render` is pure: the chat simulator prints its lines and lets the person answer its
numbered options, the way a customer taps a list row or a reply button.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ReplyType = Literal["list_reply", "button_reply"]

LOCATION_HINT = "  (comparte tu ubicación: escribe  ubicacion LAT,LNG)"

# The POST body's addressing keys: rendering is the same with or without them.
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


@dataclass(frozen=True)
class Option:
    """A list row or reply button, numbered as shown; `reply_id` comes back when chosen."""

    number: int
    reply_id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Rendered:
    """The lines a person sees and, for list and button messages, the options to choose."""

    lines: list[str]
    options: list[Option] = field(default_factory=list)
    # How choosing an option comes back in the webhook (None: nothing to choose).
    reply_type: ReplyType | None = None


def render(message: Mapping[str, Any]) -> Rendered:
    """Render one outbound message body (bare or enveloped); unknown shapes become JSON."""
    bare = {key: value for key, value in message.items() if key not in _ENVELOPE_KEYS}
    try:
        rendered = _render(bare)
    except (KeyError, TypeError, AttributeError):
        rendered = None  # malformed: show it raw rather than fail the conversation
    if rendered is None:
        return Rendered([json.dumps(bare, ensure_ascii=False, sort_keys=True)])
    return rendered


def _render(message: Mapping[str, Any]) -> Rendered | None:
    kind = message.get("type")
    if kind == "text":
        return Rendered(_text_lines(message["text"]["body"]))
    if kind == "template":
        return Rendered([_template_line(message["template"])])
    if kind in _MEDIA_NAMES:  # a relayed photo, file, audio…: what it is, then its caption
        media = message[kind]
        name = f"{_MEDIA_NAMES[kind]} {media['filename']}" if media.get("filename") else None
        caption = media.get("caption")
        return Rendered(
            [f"[{name or _MEDIA_NAMES[kind]}]", *(_text_lines(caption) if caption else [])]
        )
    if kind == "interactive":
        interactive = message["interactive"]
        shape = interactive.get("type")
        if shape == "list":
            return _list(interactive)
        if shape == "button":
            return _buttons(interactive)
        if shape == "location_request_message":
            return Rendered([*_frame(interactive), LOCATION_HINT])
    return None


_MEDIA_NAMES = {
    "image": "foto",
    "video": "video",
    "audio": "audio",
    "document": "documento",
    "sticker": "sticker",
}


def _list(interactive: Mapping[str, Any]) -> Rendered:
    lines = _frame(interactive)
    options: list[Option] = []
    for section in interactive["action"]["sections"]:
        if section.get("title"):
            lines.append(str(section["title"]))
        for row in section["rows"]:
            option = Option(len(options) + 1, row["id"], row["title"], row.get("description"))
            options.append(option)
            detail = f" — {option.description}" if option.description else ""
            lines.append(f"  {option.number}. {option.title}{detail}")
    return Rendered(lines, options, "list_reply")


def _buttons(interactive: Mapping[str, Any]) -> Rendered:
    options = [
        Option(number, button["reply"]["id"], button["reply"]["title"])
        for number, button in enumerate(interactive["action"]["buttons"], start=1)
    ]
    row = "   ".join(f"[{option.number}] {option.title}" for option in options)
    return Rendered([*_frame(interactive), f"  {row}"], options, "button_reply")


def _frame(interactive: Mapping[str, Any]) -> list[str]:
    """Header, body and footer lines of an interactive message."""
    lines: list[str] = []
    header = interactive.get("header")
    if header:
        kind = header.get("type")
        lines.extend(_text_lines(header["text"]) if kind == "text" else [f"[{kind}]"])
    lines.extend(_text_lines(interactive["body"]["text"]))
    footer = interactive.get("footer")
    if footer:
        lines.extend(_text_lines(footer["text"]))
    return lines


def _template_line(template: Mapping[str, Any]) -> str:
    params = [
        str(param["text"]) if "text" in param else json.dumps(param, ensure_ascii=False)
        for component in template.get("components", [])
        if component.get("type") == "body"
        for param in component.get("parameters", [])
    ]
    head = f"[plantilla {template['name']}]"
    return f"{head} {', '.join(params)}" if params else head


def _text_lines(text: str) -> list[str]:
    return str(text).splitlines() or [""]
