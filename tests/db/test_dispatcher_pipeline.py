"""`Dispatcher.run` as a pipeline: a slow send holds up nobody else, a busy shop never
takes every slot, and a shop's tier paces its number."""

from __future__ import annotations

import asyncio
import json

import httpx
import respx
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatcentral.config import Settings
from chatcentral.outbox.dispatcher import Dispatcher
from chatcentral.whatsapp.graph import GraphClient
from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import GRAPH, accepted
from tests.db.test_dispatcher_faults import all_sent, eventually, label_of, queue, statuses


def sent_labels(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT payload->'text'->>'body' FROM central.outbox WHERE status = 'sent'")
            ).scalars()
        )


@respx.mock
async def test_one_slow_send_holds_up_none_of_the_other_customers(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if label_of(request) == "slow":
            await release.wait()  # Meta takes its time with this one
        return accepted("wamid.X")

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=answer)
    customers = [f"5255666{n:05d}" for n in range(40)]
    queue(sync_engine, shops["grocery"].id, customers[0], "slow")
    queue(sync_engine, shops["grocery"].id, customers[0], "after slow")
    for customer in customers[1:]:
        queue(sync_engine, shops["grocery"].id, customer, f"to {customer}")

    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    dispatcher = Dispatcher(async_engine, graph, settings, batch_size=8)
    stop = asyncio.Event()
    worker = asyncio.create_task(dispatcher.run(stop))
    try:
        # 39 customers in a pipeline of 8 while the slow send hangs: slots free up and
        # refill; no batch waits for its slowest member.
        others = {f"to {c}" for c in customers[1:]}
        await eventually(lambda: sent_labels(sync_engine) == others, "the others to be sent")
        # The slow customer's next reply waits its turn, in order.
        assert statuses(sync_engine)[:2] == ["pending", "pending"]
        release.set()
        await eventually(all_sent(sync_engine), "everything to be sent")
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(worker, 30)
        await graph.aclose()
    calls = [label_of(call.request) for call in respx.calls]
    assert calls.index("after slow") > calls.index("slow")


@respx.mock
async def test_a_busy_shop_leaves_slots_for_the_others(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    release = asyncio.Event()
    started: list[str] = []  # respx records a call only once it is answered

    async def busy(request: httpx.Request) -> httpx.Response:
        started.append(label_of(request))
        await release.wait()  # the busy shop's number answers slowly
        return accepted("wamid.B")

    respx.post(f"{GRAPH}/1110001/messages").mock(side_effect=busy)
    respx.post(f"{GRAPH}/2220002/messages").mock(return_value=accepted("wamid.Q"))
    for n in range(50):  # queued first: the oldest rows are all the busy shop's
        queue(sync_engine, shops["grocery"].id, f"5255777{n:05d}", f"busy {n}")
    for n in range(5):
        queue(sync_engine, shops["water"].id, f"5255888{n:05d}", f"quiet {n}")

    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    dispatcher = Dispatcher(async_engine, graph, settings, batch_size=8)
    stop = asyncio.Event()
    worker = asyncio.create_task(dispatcher.run(stop))
    try:
        quiet = {f"quiet {n}" for n in range(5)}
        await eventually(lambda: sent_labels(sync_engine) == quiet, "the quiet shop's sends")
        # The busy shop holds its share (half the pipeline), not every slot.
        assert started == [f"busy {n}" for n in range(4)]
        release.set()
        await eventually(all_sent(sync_engine), "everything to be sent")
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(worker, 30)
        await graph.aclose()


@respx.mock
async def test_a_shops_tier_paces_its_number(
    settings: Settings,
    async_engine: AsyncEngine,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET settings = settings || '{\"throughput_mps\": 2}' "
                "WHERE id = :t"
            ),
            {"t": shops["grocery"].id},
        )
    route = respx.post(f"{GRAPH}/1110001/messages").mock(return_value=accepted("wamid.P"))
    for n in range(4):
        queue(sync_engine, shops["grocery"].id, f"5255999{n:05d}", f"paced {n}")

    graph = GraphClient(settings.whatsapp_api_base_url, settings.whatsapp_api_version)
    dispatcher = Dispatcher(async_engine, graph, settings, batch_size=8)
    booked: list[tuple[str, float]] = []
    book = dispatcher._pacer.book

    def spy(number: str, mps: float) -> float:
        booked.append((number, mps))
        return book(number, mps)

    dispatcher._pacer.book = spy  # type: ignore[method-assign]
    stop = asyncio.Event()
    worker = asyncio.create_task(dispatcher.run(stop))
    try:
        await eventually(all_sent(sync_engine), "the paced sends")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        await graph.aclose()
    # Every send of that number was booked at the shop's tier (the Pacer's own tests show
    # that a tier is never exceeded in any one-second window).
    assert booked == [("1110001", 2.0)] * 4
    assert route.call_count == 4
    assert [json.loads(c.request.content)["text"]["body"] for c in route.calls] == [
        f"paced {n}" for n in range(4)
    ]
