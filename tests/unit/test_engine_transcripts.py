"""The golden transcripts replayed through the engine alone, with an in-memory shop.

The same files `tests/db/test_transcripts.py` replays through the real webhook and
PostgreSQL: here they prove, in milliseconds, that the conversation core by itself says
every line customers read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chatcentral.conversation.events import event_from
from chatcentral.simulator.render import render
from chatcentral.whatsapp.payloads import parse_message
from tests.support.memory_shop import MemoryShop, demo_catalog, demo_shop
from tests.support.transcript_format import transcript_lines

FOLDER = Path(__file__).parents[1] / "transcripts"
_PIN = re.compile(r"^\[ubicación (-?[\d.]+),(-?[\d.]+)(?: (.+?) \| (.+))?\]$")
_SHOPS = {
    "grocery": ("grocery", "Abarrotes Doña Mary"),
    "water": ("water_delivery", "Agua La Fuente"),
}


def _message(said: str, last: list[dict[str, Any]]) -> dict[str, Any]:
    """The `messages[]` item a customer's phone sends for one transcript line."""
    base: dict[str, Any] = {"from": "5215500000000", "id": "wamid.X", "timestamp": "1"}
    pin = _PIN.match(said)
    if re.fullmatch(r"\[\d+\]", said):
        shown = next(render(m) for m in reversed(last) if render(m).options)
        option = shown.options[int(said[1:-1]) - 1]
        kind = shown.reply_type or "list_reply"
        reply = {"id": option.reply_id, "title": option.title}
        return {**base, "type": "interactive", "interactive": {"type": kind, kind: reply}}
    if pin:
        location: dict[str, Any] = {"latitude": float(pin[1]), "longitude": float(pin[2])}
        if pin[3]:
            location.update(name=pin[3], address=pin[4])
        return {**base, "type": "location", "location": location}
    if said.startswith("[foto "):
        image = {"id": said[6:-1], "mime_type": "image/jpeg", "sha256": "AAAA"}
        return {**base, "type": "image", "image": image}
    return {**base, "type": "text", "text": {"body": said}}


def replay(golden: list[str], memory: MemoryShop) -> list[str]:
    out: list[str] = []
    last: list[dict[str, Any]] = []
    for line in golden:
        if line.startswith("<"):
            continue
        out.append(line)
        if line.startswith("! "):
            memory.expire()
        elif line.startswith("> "):
            event = event_from(parse_message(_message(line[2:], last)))
            last = memory.send(event)
            out.extend(transcript_lines(last) or ["< (sin respuesta)"])
    return out


# The admin side needs the database (orders, staff): tests/db/test_transcripts.py has those.
CUSTOMER_ONLY = [p for p in sorted(FOLDER.glob("*.txt")) if "\n# admin: " not in p.read_text()]


@pytest.mark.parametrize("path", CUSTOMER_ONLY, ids=lambda p: p.stem)
def test_the_engine_alone_says_every_line(path: Path) -> None:
    golden = path.read_text(encoding="utf-8").splitlines()
    header = dict(re.findall(r"^# (\w+): (.+)$", "\n".join(golden), flags=re.MULTILINE))
    flow, shop_name = _SHOPS[header["shop"]]
    _, _, customer = header["customer"].partition(" ")
    memory = MemoryShop(demo_shop(flow, shop_name), demo_catalog(flow), customer_name=customer)
    assert replay(golden, memory) == golden
