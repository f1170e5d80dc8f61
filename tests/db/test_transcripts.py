"""Golden transcripts: what customers see, readable, checked on every run.

Each file under tests/transcripts/ names its shop and customer, then alternates customer
lines (`> `) and bot lines (`< `). The test replays the customer lines through the real
webhook and compares every bot line. `> [2]` taps option 2 of the last menu or buttons;
`> [ubicación LAT,LNG Nombre | Dirección]` shares a pin; `> [foto ID]` sends a photo;
`! caduca la sesión` lets the session go idle. A file with an `# admin:` header also has
the shop owner's lines (`A> `) and what reaches her phone (`A< `). Run with
UPDATE_TRANSCRIPTS=1 to rewrite the files after an intended change, then read the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.support.conversation import Customer
from tests.support.transcript_format import transcript_lines

FOLDER = Path(__file__).parents[1] / "transcripts"
_PIN = re.compile(r"^\[ubicación (-?[\d.]+),(-?[\d.]+)(?: (.+?) \| (.+))?\]$")


async def replay(
    lines: list[str], customer: Customer, engine: Engine, admin: Customer | None = None
) -> list[str]:
    """Replay the `> ` (customer) and `A> ` (admin) lines; after each, what reached the
    one who spoke (`< ` or `A< `) and then anything that reached the other one."""
    out: list[str] = []
    for line in lines:
        if line.startswith("#"):
            out.append(line)
        elif line.startswith("! "):
            out.append(line)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        f"UPDATE tenant_{customer.slug}.customer_sessions "
                        "SET expires_at = now() - interval '1 minute'"
                    )
                )
        elif line.startswith(("> ", "A> ")):
            out.append(line)
            prefix, said = line.split(" ", 1)
            speaker = admin if prefix == "A>" and admin is not None else customer
            listener = customer if speaker is admin else admin
            replies = await _act(speaker, said)
            out.extend(_as(speaker is admin, transcript_lines(replies) or ["< (sin respuesta)"]))
            if listener is not None and (heard := listener.arrivals()):
                out.extend(_as(listener is admin, transcript_lines(heard)))
    return out


async def _act(person: Customer, said: str) -> list[dict[str, object]]:
    pin = _PIN.match(said)
    if re.fullmatch(r"\[\d+\]", said):
        return await person.taps(int(said[1:-1]))
    if pin:
        return await person.shares_location(
            float(pin.group(1)), float(pin.group(2)), pin.group(3), pin.group(4)
        )
    if said.startswith("[foto "):
        return await person.sends_photo(said[6:-1])
    return await person.says(said)


def _as(admin: bool, lines: list[str]) -> list[str]:
    return ["A" + line if admin else line for line in lines]


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.txt")), ids=lambda p: p.stem)
async def test_transcript(
    path: Path,
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    client, _ = app_client
    golden = path.read_text(encoding="utf-8").splitlines()
    header = dict(re.findall(r"^# (\w+): (.+)$", "\n".join(golden), flags=re.MULTILINE))
    shop = shops[header["shop"]]
    wa_id, _, name = header["customer"].partition(" ")
    customer = Customer(client, sync_engine, shop.phone_number_id, wa_id=wa_id, name=name)
    customer.slug = shop.schema.removeprefix("tenant_")
    admin = None
    if "admin" in header:
        admin_id, _, admin_name = header["admin"].partition(" ")
        admin = Customer(client, sync_engine, shop.phone_number_id, wa_id=admin_id, name=admin_name)
    script = [line for line in golden if not line.startswith(("<", "A<"))]
    produced = await replay(script, customer, sync_engine, admin)
    if os.environ.get("UPDATE_TRANSCRIPTS"):
        path.write_text("\n".join(produced) + "\n", encoding="utf-8")
    assert produced == golden
