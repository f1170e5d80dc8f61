"""Signed webhook bodies no one should send, and some Meta might: random shapes, extreme
numbers, lone surrogates, NULs, huge strings, deep nesting, wrong types, non-JSON bytes.

Each sample is (label, raw bytes); the drill signs and posts it. The promise under test:
every one is answered 200 or 4xx, never 5xx, and the process stays healthy.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from chatcentral.simulator.webhooks import (
    contact,
    message,
    one_change,
    status,
    text_content,
)

UNKNOWN_NUMBER = "19999999999"
MAX_BODY = 4 * 1024 * 1024  # README: bodies over 4 MiB get 413

_KEYS = (
    "id",
    "from",
    "timestamp",
    "type",
    "text",
    "body",
    "interactive",
    "button_reply",
    "list_reply",
    "location",
    "latitude",
    "image",
    "order",
    "status",
    "errors",
    "code",
    "context",
    "wa_id",
    "recipient_id",
    "pricing",
    "conversation",
)
_EVIL_STRINGS = (
    "\ud800",
    "a\udfffb",
    "\ud83d",  # half an emoji
    "\u0000",
    "nul\u0000in the middle",
    "\u202eRTL override",
    "💥" * 5000,
    "x" * 1_000_000,
    " ",
    "",
    "'; DROP TABLE customers; --",
    "%s %d {0} {texto}",
)
_EXTREME_NUMBERS: tuple[Any, ...] = (
    10**12,
    -99999999999,
    10**30,
    -(2**63) - 1,
    2**64,
    1e308,
    -1e308,
    5e-324,
    0,
    -1,
    "NaN",
    "1e999",
    "",
)
Sample = tuple[str, bytes]


def samples(rng: random.Random, number: str, count: int) -> list[Sample]:
    """`count` bodies, cycling through every kind, for the shop with `number`."""
    makers: list[tuple[str, Callable[[random.Random, str, int], bytes]]] = [
        ("random JSON", _random_json),
        ("random items", _random_items),
        ("evil text", _evil_text),
        ("evil contact", _evil_contact),
        ("extreme numbers", _extreme_message),
        ("extreme statuses", _extreme_statuses),
        ("deep nesting", _deep),
        ("wrong types", _wrong_types),
        ("unknown number", _unknown_number),
        ("not JSON", _not_json),
        ("other fields", _other_field),
    ]
    out = [("huge body", _huge(MAX_BODY + 1024)), ("big batch", _big_batch(number))]
    for i in range(max(0, count - len(out))):
        label, make = makers[i % len(makers)]
        out.append((label, make(rng, number, i)))
    return out


def _dump(body: Any) -> bytes:
    # ensure_ascii (json's default) writes a lone surrogate as the \ud800 escape Meta would
    return json.dumps(body).encode()


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice(_EXTREME_NUMBERS)
    if kind == 3:
        return rng.randint(-(10**6), 10**6)
    if kind == 4:
        return rng.choice(_EVIL_STRINGS[:6] + _EVIL_STRINGS[8:])
    if kind == 5:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(12)))
    if kind in (6, 7):
        return {rng.choice(_KEYS): _value(rng, depth + 1) for _ in range(rng.randrange(5))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _random_json(rng: random.Random, number: str, i: int) -> bytes:
    return _dump(_value(rng))


def _random_items(rng: random.Random, number: str, i: int) -> bytes:
    def item() -> dict[str, Any]:
        return {rng.choice(_KEYS): _value(rng, 1) for _ in range(rng.randrange(1, 7))}

    return _dump(
        one_change(
            number,
            messages=[item() for _ in range(rng.randrange(3))],
            statuses=[item() for _ in range(rng.randrange(3))],
            contacts=[_value(rng, 1) for _ in range(rng.randrange(2))],
        )
    )


def _text(number: str, i: int, body: str, sender: str = "5255990000") -> dict[str, Any]:
    sender = f"{sender}{i % 100:02d}"
    return one_change(
        number,
        contacts=[contact(sender, "Fuzz")],
        messages=[message(sender, f"wamid.FUZZ.{i}", 1_760_000_000 + i, text_content(body))],
    )


def _evil_text(rng: random.Random, number: str, i: int) -> bytes:
    return _dump(_text(number, i, rng.choice(_EVIL_STRINGS)))


def _evil_contact(rng: random.Random, number: str, i: int) -> bytes:
    body = _text(number, i, "hola")
    value = body["entry"][0]["changes"][0]["value"]
    target = rng.choice(("name", "wa_id", "from", "id", "display"))
    evil = rng.choice(_EVIL_STRINGS)
    if target == "name":
        value["contacts"][0]["profile"]["name"] = evil
    elif target == "wa_id":
        value["contacts"][0]["wa_id"] = evil
    elif target == "from":
        value["messages"][0]["from"] = evil
    elif target == "id":
        value["messages"][0]["id"] = f"wamid.FUZZ.{i}.{evil}"
    else:
        value["metadata"]["display_phone_number"] = evil
    return _dump(body)


def _extreme_message(rng: random.Random, number: str, i: int) -> bytes:
    body = _text(number, i, "hola")
    item = body["entry"][0]["changes"][0]["value"]["messages"][0]
    choice = rng.randrange(4)
    if choice == 0:
        item["timestamp"] = rng.choice(_EXTREME_NUMBERS)
    elif choice == 1:
        item.pop("text")
        item["type"] = "location"
        item["location"] = {
            "latitude": rng.choice(_EXTREME_NUMBERS),
            "longitude": rng.choice(_EXTREME_NUMBERS),
        }
    elif choice == 2:
        item.pop("text")
        item["type"] = "order"
        product = {
            "product_retailer_id": str(rng.choice(_EXTREME_NUMBERS)),
            "quantity": rng.choice(_EXTREME_NUMBERS),
            "item_price": rng.choice(_EXTREME_NUMBERS),
            "currency": "MXN",
        }
        item["order"] = {"catalog_id": "1", "product_items": [product]}
    else:
        item.pop("text")
        item["type"] = "interactive"
        reply = {"id": "x" * rng.choice((1, 300, 100_000)), "title": rng.choice(_EVIL_STRINGS)}
        item["interactive"] = {"type": "button_reply", "button_reply": reply}
    return _dump(body)


def _extreme_statuses(rng: random.Random, number: str, i: int) -> bytes:
    """A batch where one status is absurd and the others are fine (Meta batches them)."""
    good = [
        status(f"wamid.FUZZS.{i}.{k}", "delivered", 1_760_000_000, "525599000000") for k in range(3)
    ]
    bad = status(f"wamid.FUZZS.{i}.bad", "read", 1_760_000_000, "525599000000")
    choice = rng.randrange(5)
    if choice == 0:
        bad["timestamp"] = str(rng.choice((10**12, -99999999999, 10**30)))
    elif choice == 1:
        bad["errors"] = [{"code": rng.choice((2**40, -(2**63) - 1, 2**64)), "title": "x"}]
        bad["status"] = "failed"
    elif choice == 2:
        bad["id"] = "w" * 8192
    elif choice == 3:
        bad["status"] = "s" * 8192
    else:
        bad["recipient_id"] = rng.choice(_EVIL_STRINGS)
    good.insert(rng.randrange(4), bad)
    return _dump(one_change(number, statuses=good))


def _deep(rng: random.Random, number: str, i: int) -> bytes:
    depth = rng.choice((50, 1000, 5000, 100_000))
    nested = "[" * depth + "]" * depth
    where = rng.randrange(3)
    if where == 0:
        return nested.encode()
    body = _text(number, i, "hola")
    marker = '"__deep__"'
    if where == 1:
        body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "__deep__"
    else:
        body["entry"][0]["changes"][0]["value"]["messages"][0]["context"] = "__deep__"
    return _dump(body).replace(marker.encode(), nested.encode(), 1)


def _wrong_types(rng: random.Random, number: str, i: int) -> bytes:
    body = _text(number, i, "hola")
    value = body["entry"][0]["changes"][0]["value"]
    item = value["messages"][0]
    wrong: Any = rng.choice((None, 7, -1.5, "texto", [], {}, [1, 2], True))
    target = rng.randrange(10)
    if target == 0:
        body["entry"] = wrong
    elif target == 1:
        body["entry"][0]["changes"] = wrong
    elif target == 2:
        body["entry"][0]["changes"][0]["value"] = wrong
    elif target == 3:
        value["messages"] = wrong
    elif target == 4:
        value["metadata"] = wrong
    elif target == 5:
        value["metadata"]["phone_number_id"] = int(number)
    elif target == 6:
        item["text"] = wrong
    elif target == 7:
        item["from"] = wrong
    elif target == 8:
        item["type"] = wrong
    else:
        value["contacts"] = wrong
    return _dump(body)


def _unknown_number(rng: random.Random, number: str, i: int) -> bytes:
    return _dump(_text(UNKNOWN_NUMBER, i, "hola"))


def _not_json(rng: random.Random, number: str, i: int) -> bytes:
    choices: list[bytes] = [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
        b"",
        b"null",
        b'{"object": "whatsapp_business_account", "entry": [',
        "\ufeff".encode() + _dump(_text(number, i, "hola")),
        '{"object": "\ud800"}'.encode("utf-8", "surrogatepass"),
        b'{"object": NaN}',
        b'{"object": "whatsapp_business_account", "object": 1, "entry": []}',
    ]
    return rng.choice(choices)


def _other_field(rng: random.Random, number: str, i: int) -> bytes:
    body = one_change(number)
    change = body["entry"][0]["changes"][0]
    change["field"] = rng.choice(("account_update", "message_template_status_update", "\ud800", ""))
    change["value"] = _value(rng)
    return _dump(body)


def _huge(size: int) -> bytes:
    return _dump(_text(UNKNOWN_NUMBER, 0, "x" * size))


def _big_batch(number: str) -> bytes:
    items = [
        status(f"wamid.FUZZB.{k}", "delivered", 1_760_000_000, "525599000000") for k in range(500)
    ]
    return _dump(one_change(number, statuses=items))
