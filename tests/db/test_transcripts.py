"""Golden transcripts: what customers see, readable, checked on every run.

Each file under tests/transcripts/ names its shop and customer, then alternates customer
lines (`> `) and bot lines (`< `). The test replays the customer lines through the real
webhook and compares every bot line. `> [2]` taps option 2 of the last menu or buttons;
`> [ubicación LAT,LNG Nombre | Dirección]` shares a pin; `> [foto ID]` sends a photo;
`! caduca la sesión` lets the session go idle. Run with UPDATE_TRANSCRIPTS=1 to rewrite
the files after an intended change, then read the diff.
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


async def replay(lines: list[str], customer: Customer, engine: Engine) -> list[str]:
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
        elif line.startswith("> "):
            out.append(line)
            said = line[2:]
            pin = _PIN.match(said)
            if re.fullmatch(r"\[\d+\]", said):
                replies = await customer.taps(int(said[1:-1]))
            elif pin:
                replies = await customer.shares_location(
                    float(pin.group(1)), float(pin.group(2)), pin.group(3), pin.group(4)
                )
            elif said.startswith("[foto "):
                replies = await customer.sends_photo(said[6:-1])
            else:
                replies = await customer.says(said)
            out.extend(transcript_lines(replies) or ["< (sin respuesta)"])
    return out


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
    script = [line for line in golden if not line.startswith("< ")]
    produced = await replay(script, customer, sync_engine)
    if os.environ.get("UPDATE_TRANSCRIPTS"):
        path.write_text("\n".join(produced) + "\n", encoding="utf-8")
    assert produced == golden
