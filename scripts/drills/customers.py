"""Customers of the drilled shops: scripted conversations sent as signed webhooks.

A customer sends one message at a time and waits for its acknowledgement, as a person
waits for the bot, so every message is answered (none is stale) and the replies a drill
expects are exactly the ones the bot decided. Buyers follow the golden grocery order
(tests/transcripts/grocery_order.txt) to a confirmed order, reading the options to tap
from the outbox, which does not depend on the dispatcher being alive. Browsers send the
load script's mix of words.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.phones import normalize_phone, wa_id_of
from chatcentral.simulator.chat import interactive_reply
from chatcentral.simulator.render import Rendered, render
from chatcentral.simulator.webhooks import (
    BUSINESS_PHONE,
    contact,
    location_content,
    message,
    one_change,
    signed,
    text_content,
)
from drills.harness import SECRET, Meta

GROCERY_ORDER = Path(__file__).resolve().parents[2] / "tests" / "transcripts" / "grocery_order.txt"
BROWSE_WORDS = ("hola", "menú", "1", "catálogo")  # scripts/load_webhooks.py's mix
CONFIRM_TITLE = "Confirmar"

_PIN = re.compile(r"^\[ubicación (-?[\d.]+),(-?[\d.]+)(?: (.+?) \| (.+))?\]$")
_TAP = re.compile(r"^\[(\d+)\]$")
_REPLIES = text(
    "SELECT id, payload FROM central.outbox WHERE tenant_id = :tenant AND recipient = :r "
    "AND kind = 'message' AND id > :seen ORDER BY id"
)


@dataclass(frozen=True)
class Shop:
    id: int
    slug: str
    schema: str
    phone_number_id: str


@dataclass(frozen=True)
class Step:
    """One thing a customer does: type `text`, tap option `tap` of the last menu, or share
    a location (`pin`: latitude, longitude, name, address)."""

    text: str | None = None
    tap: int | None = None
    pin: tuple[float, float, str | None, str | None] | None = None


def transcript_steps(path: Path = GROCERY_ORDER) -> list[Step]:
    """The customer lines of a golden transcript (same notation as tests/test_transcripts)."""
    steps = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("! "):
            raise ValueError(f"{path.name}: '{line}' (an idle session) cannot be drilled")
        if not line.startswith("> "):
            continue
        said = line[2:]
        tap, pin = _TAP.match(said), _PIN.match(said)
        if tap:
            steps.append(Step(tap=int(tap.group(1))))
        elif pin:
            lat, lng, name, address = pin.groups()
            steps.append(Step(pin=(float(lat), float(lng), name, address)))
        elif said.startswith("["):
            raise ValueError(f"{path.name}: '{said}' is not a step the drill can send")
        else:
            steps.append(Step(text=said))
    return steps


def browse_steps(rng: random.Random, count: int) -> list[Step]:
    return [Step(text="hola")] + [Step(text=rng.choice(BROWSE_WORDS)) for _ in range(count - 1)]


@dataclass
class Duplicates:
    """Meta's at-least-once delivery, exaggerated: a `rate` of the webhooks is delivered two
    or three times, each extra copy either at once (concurrently with the original) or late,
    after the customer's next one to three messages were handled."""

    rate: float
    rng: random.Random

    def plan(self) -> tuple[int, list[int]]:
        """(copies sent with the original, delays in messages of the late copies)."""
        if self.rng.random() >= self.rate:
            return 0, []
        concurrent, late = 0, []
        for _ in range(self.rng.choice((1, 2))):
            if self.rng.random() < 0.5:
                concurrent += 1
            else:
                late.append(self.rng.randint(1, 3))
        return concurrent, late


class OutboxReader:
    """What the bot queued for a customer, read back; waits out a database outage."""

    def __init__(self, engine: AsyncEngine, patience: float = 120.0) -> None:
        self._engine = engine
        self._patience = patience

    async def replies(self, shop: Shop, recipient: str, seen: int) -> list[tuple[int, Any]]:
        deadline = time.monotonic() + self._patience
        while True:
            try:
                async with self._engine.connect() as conn:
                    params = {"tenant": shop.id, "r": recipient, "seen": seen}
                    rows = (await conn.execute(_REPLIES, params)).all()
                return [(row.id, row.payload) for row in rows]
            except (DBAPIError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)


@dataclass
class Load:
    """What all customers of one drill share, and how far they got."""

    meta: Meta
    outbox: OutboxReader
    duplicates: Duplicates
    total_steps: int = 0
    done_steps: int = 0
    copies: int = 0  # extra deliveries of an acknowledged body (the duplicate storm)
    running: int = 0  # customers not finished (or given up) yet

    @property
    def progress(self) -> float:
        """The share of all steps acknowledged; 1 once every customer has stopped, so a
        fault waiting for its moment never outwaits customers that gave up."""
        if not self.running or not self.total_steps:
            return 1.0
        return self.done_steps / self.total_steps


class Customer:
    def __init__(self, drill: str, index: int, shop: Shop, steps: list[Step], *, buyer: bool):
        self.shop = shop
        self.steps = steps
        self.buyer = buyer
        self.wa_id = f"5255{index:08d}"  # 52 + 10 digits: already WhatsApp's canonical form
        self.recipient = wa_id_of(normalize_phone(self.wa_id))
        self.name = f"Cliente {drill} {index}"
        self.wamids: list[str] = []  # every message acknowledged with 200
        self.confirm_wamid: str | None = None  # the tap on "Confirmar", once acknowledged
        self.error: str | None = None
        self._prefix = f"wamid.DRILL.{drill}.{index}."
        self._seen = 0
        self._offer: Rendered | None = None

    async def run(self, load: Load) -> None:
        clock = int(time.time())
        late: list[tuple[int, bytes, dict[str, str]]] = []
        for number, step in enumerate(self.steps):
            content, confirms = self._content(step)
            if content is None:
                return
            wamid = f"{self._prefix}{number}"
            item = message(self.wa_id, wamid, clock + number, content)
            body = one_change(
                self.shop.phone_number_id,
                contacts=[contact(self.wa_id, self.name)],
                messages=[item],
            )
            raw, headers = signed(body, SECRET)
            concurrent, delays = load.duplicates.plan()
            statuses = await asyncio.gather(
                *(load.meta.deliver(raw, headers) for _ in range(1 + concurrent))
            )
            if any(status != 200 for status in statuses):
                self.error = f"message {number} ({step}) answered {statuses}, never 200"
                return
            load.copies += concurrent
            self.wamids.append(wamid)
            if confirms:
                self.confirm_wamid = wamid
            late.extend((number + delay, raw, headers) for delay in delays)
            await self._send_due(load, late, number)
            if self.buyer:
                await self._read_replies(load)
            load.done_steps += 1
        await self._send_due(load, late, len(self.steps))

    def _content(self, step: Step) -> tuple[dict[str, Any] | None, bool]:
        if step.text is not None:
            return text_content(step.text), False
        if step.pin is not None:
            return location_content(*step.pin), False
        assert step.tap is not None
        offer = self._offer
        if offer is None or offer.reply_type is None or not 1 <= step.tap <= len(offer.options):
            shown = [option.title for option in offer.options] if offer else []
            self.error = f"cannot tap option {step.tap}: the last menu offered {shown}"
            return None, False
        option = offer.options[step.tap - 1]
        content = interactive_reply(option, offer.reply_type, None, BUSINESS_PHONE)
        return content, option.title == CONFIRM_TITLE

    async def _send_due(
        self, load: Load, late: list[tuple[int, bytes, dict[str, str]]], number: int
    ) -> None:
        """Deliver the late copies whose time has come: the conversation has moved on."""
        for entry in [entry for entry in late if entry[0] <= number]:
            late.remove(entry)
            status = await load.meta.deliver(entry[1], entry[2])
            if status != 200:
                self.error = f"a late copy was answered {status}"
            load.copies += 1

    async def _read_replies(self, load: Load) -> None:
        rows = await load.outbox.replies(self.shop, self.recipient, self._seen)
        if not rows:
            return  # no answer: the last menu still stands
        self._seen = rows[-1][0]
        offer = None
        for _, payload in rows:
            shown = render(payload)
            if shown.options:
                offer = shown
        self._offer = offer


def make_customers(
    drill: str, shops: list[Shop], buyers: int, browsers: int, browse_length: int, seed: int
) -> list[Customer]:
    rng = random.Random(seed)
    order = transcript_steps()
    customers = [
        Customer(drill, index, shops[index % len(shops)], order, buyer=True)
        for index in range(buyers)
    ]
    customers += [
        Customer(
            drill, index, shops[index % len(shops)], browse_steps(rng, browse_length), buyer=False
        )
        for index in range(buyers, buyers + browsers)
    ]
    return customers


async def run_customers(customers: list[Customer], load: Load) -> None:
    load.total_steps = sum(len(customer.steps) for customer in customers)
    load.running = len(customers)

    async def one(customer: Customer) -> None:
        try:
            await customer.run(load)
        except Exception as exc:  # noqa: BLE001 - one customer's end is a finding, not a crash
            customer.error = f"stopped by {exc!r}"
        finally:
            load.running -= 1

    await asyncio.gather(*(one(customer) for customer in customers))
