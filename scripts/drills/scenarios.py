"""The five drills. Each starts its own `chatcentral run` and fake Cloud API against its own
shops, drives customers through it while a fault happens, waits for the outbox to drain
and ends in exact counts (drills.audit) checked against what must hold."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from chatcentral.simulator.fake_cloud import FakeCloud
from chatcentral.simulator.webhooks import signed
from drills.audit import audit, in_flight, timed_out
from drills.bench import Bench, Row, running
from drills.checks import (
    acknowledged_not_recorded,
    conversation_checks,
    drain,
    fine,
    http_status,
)
from drills.customers import (
    Customer,
    Duplicates,
    Load,
    OutboxReader,
    Shop,
    Step,
    make_customers,
    run_customers,
)
from drills.fuzz import MAX_BODY, samples
from drills.harness import SECRET, Meta

# Between the Graph API's answer and the commit that records it: the time a dispatcher that
# records each call at once may still lose to a crash.
RECORD_GRACE_S = 0.5
OUTAGE_S = 5.0


# --- The drills ----------------------------------------------------------------------------------


async def duplicates(bench: Bench) -> Row:
    """20 % of webhooks delivered two or three times, some at once, some late."""
    shops, row = bench.shops["duplicates"], Row("duplicates")
    async with running(bench, row.drill) as run:
        customers = _customers(bench, row.drill, shops)
        load = _load(bench, run.meta, rate=0.2)
        await run_customers(customers, load)
        await drain(bench.engine, shops, run.fake, row)
        result = await audit(bench.engine, shops, customers, run.fake.calls())
    conversation_checks(row, result, customers, run.meta)
    row.notes.append(f"{load.copies} extra copies of acknowledged webhooks")
    row.expect(load.copies > 0, "no duplicate was delivered: the drill did not exercise its fault")
    return row


async def graph_faults(bench: Bench) -> Row:
    """Bursts of 429 and 500 from the Graph API, random 500s, and calls that hang until the
    dispatcher's HTTP client times out (some of them accepted by Meta all the same)."""
    shops, row = bench.shops["graph-faults"], Row("graph-faults")
    async with running(bench, row.drill) as run:
        fake = run.fake
        customers = _customers(bench, row.drill, shops)
        load = _load(bench, run.meta)
        burst = bench.size.burst
        fake.fail_next(burst, status=429, code=130429)
        fake.fail_fraction(0.03, status=500, code=131000)

        async def faults() -> None:
            await _until(lambda: load.progress >= 0.25)
            fake.fail_next(burst, status=500, code=131000)
            await _until(lambda: load.progress >= 0.45)
            fake.hang_next(2, accept=True)
            fake.hang_next(1, accept=False)
            await _until(lambda: load.progress >= 0.65)
            fake.fail_next(burst, status=429, code=130429)

        await _with_fault(run_customers(customers, load), faults())
        fake.fail_fraction(0)
        await drain(bench.engine, shops, fake, row)
        calls = fake.calls()
        result = await audit(bench.engine, shops, customers, calls)
    numbers = [shop.phone_number_id for shop in shops]
    accepted, dropped = timed_out(calls, numbers)
    refused = sum(1 for call in calls if call.failed_with is not None)
    conversation_checks(row, result, customers, run.meta, repeats_allowed=accepted)
    row.repeats_why = "calls that timed out after Meta accepted them"
    row.notes.append(
        f"{refused} calls answered 429/500, {accepted + dropped} timed out "
        f"({accepted} of them accepted by Meta all the same)"
    )
    row.expect(accepted + dropped > 0, "no call timed out: the drill did not exercise hangs")
    return row


async def kill9(bench: Bench) -> Row:
    """`kill -9` of chatcentral run under load, a restart, and Meta redelivering every
    webhook that was not acknowledged."""
    shops, row = bench.shops["kill-9"], Row("kill-9")
    async with running(bench, row.drill) as run:
        fake, app = run.fake, run.app
        customers = _customers(bench, row.drill, shops)
        load = _load(bench, run.meta)
        numbers = [shop.phone_number_id for shop in shops]
        moment: dict[str, float] = {}

        # Mostly quick answers and a few slow ones: a dispatcher that records each answer at
        # once has little in flight at any moment; one that waits for a whole batch holds
        # many answered calls it has not recorded.
        fake.set_latency(0.03, slow_fraction=0.1, slow_seconds=2.0)

        async def fault() -> None:
            await _until(lambda: load.progress >= 0.35)
            # Strike while a slow call is out and others that left after it were answered,
            # but before the load is over.
            await _until(lambda: _slow_call_out(fake, numbers, 0.8, 3) or load.progress >= 0.9)
            moment["slow"] = float(_slow_call_out(fake, numbers, 0.8, 3))
            moment["kill"], moment["progress"] = time.monotonic(), load.progress
            app.kill()
            fake.reset_faults()  # the latency was for the kill: let the drain go at full speed
            await asyncio.to_thread(app.start)

        await _with_fault(run_customers(customers, load), fault())
        await drain(bench.engine, shops, fake, row)
        calls = fake.calls()
        result = await audit(bench.engine, shops, customers, calls)
    bound = in_flight(calls, numbers, moment["kill"], moment["kill"], RECORD_GRACE_S)
    conversation_checks(
        row, result, customers, run.meta, repeats_allowed=bound, mark_reads_lost_allowed=bound
    )
    row.repeats_why = (
        f"Graph API calls in flight at the kill (answered < {RECORD_GRACE_S} s before)"
    )
    when = "with a slow call out" if moment["slow"] else "(no slow call was out)"
    row.notes.append(
        f"killed once at {moment['progress']:.0%} of the load {when}, then restarted; "
        f"calls in flight: {bound}"
    )
    return row


async def db_outage(bench: Bench) -> Row:
    """PostgreSQL stopped (immediate: a crash) for 5 s under load, then started again; the
    same chatcentral run must answer 503 meanwhile and drain the outbox afterwards."""
    shops, row = bench.shops["db-outage"], Row("db-outage")
    async with running(bench, row.drill) as run:
        fake, app = run.fake, run.app
        pid = app.pid
        customers = _customers(bench, row.drill, shops)
        load = _load(bench, run.meta)
        window: dict[str, float] = {}
        ready_during: list[int] = []

        async def fault() -> None:
            await _until(lambda: load.progress >= 0.35)
            window["down"] = time.monotonic()
            await asyncio.to_thread(bench.postgres.stop, "immediate")
            await asyncio.sleep(OUTAGE_S / 2)
            ready_during.append(await http_status(app, "/readyz"))
            await asyncio.sleep(OUTAGE_S / 2)
            await asyncio.to_thread(bench.postgres.start)
            window["up"] = time.monotonic()

        await _with_fault(run_customers(customers, load), fault())
        drained = await drain(bench.engine, shops, fake, row)
        calls = fake.calls()
        result = await audit(bench.engine, shops, customers, calls)
        ready_after = await http_status(app, "/readyz")
        same_process = app.alive() and app.pid == pid and app.starts == 1
    numbers = [shop.phone_number_id for shop in shops]
    bound = in_flight(calls, numbers, window["down"], window["up"], RECORD_GRACE_S)
    conversation_checks(row, result, customers, run.meta, repeats_allowed=bound)
    row.repeats_why = "Graph API calls in flight when the database stopped or answered while down"
    row.expect(row.status_503 > 0, "no webhook got 503 during the outage")
    row.expect(same_process, "chatcentral run did not stay up as the same process")
    row.expect(drained, "the outbox did not drain after the restart (dispatcher not sending)")
    if drained:
        row.expect(ready_after == 200, f"/readyz answered {ready_after} after the outbox drained")
    else:
        row.expect(ready_after != 200, "/readyz answered 200 while the outbox was stuck")
    row.notes.append(
        f"database down {window['up'] - window['down']:.1f} s; /readyz during the outage "
        f"{ready_during[0] if ready_during else '-'}, after {ready_after}"
    )
    return row


async def fuzz(bench: Bench) -> Row:
    """~300 signed bodies of every wrong kind; then the process must still answer a customer."""
    shops, row = bench.shops["fuzz"], Row("fuzz")
    target, probe_shop = shops
    async with running(bench, row.drill) as run:
        app, meta = run.app, run.meta
        bodies = samples(random.Random(bench.seed), target.phone_number_id, bench.size.fuzz)
        answers: Counter[tuple[str, int]] = Counter()
        acknowledged: list[tuple[str, bytes]] = []

        async def post(label: str, raw: bytes) -> None:
            body, headers = signed(raw, SECRET)
            # A connection each: a 500 makes uvicorn close its connection, and a body sent
            # on it meanwhile would get no answer that is not its own doing. Not for a body
            # over the limit: its 413 comes before the upload ends, and closing then cuts
            # the upload short before the client reads the answer.
            if len(raw) <= MAX_BODY:
                headers["Connection"] = "close"
            status = await meta.post(body, headers) or 0
            answers[label, status] += 1
            if status == 200:
                acknowledged.append((label, raw))

        await asyncio.gather(*(post(label, raw) for label, raw in bodies))
        lost = await acknowledged_not_recorded(bench.engine, target, acknowledged)
        health = await http_status(app, "/healthz")
        ready = await http_status(app, "/readyz")
        probe = Customer(row.drill, 0, probe_shop, [Step(text="hola")], buyer=False)
        await run_customers([probe], _load(bench, meta))
        await drain(bench.engine, [probe_shop], run.fake)
        result = await audit(bench.engine, [probe_shop], [probe], run.fake.calls())
        alive = app.alive()
    row.messages = len(bodies)
    row.duplicates = 0
    row.replies = (result.replies_expected, result.replies_sent)
    row.status_503 = meta.tally.statuses[503]
    row.other_5xx = meta.tally.other_5xx
    row.repeats = result.repeats
    bad = sorted((label, status) for (label, status), _ in answers.items() if not fine(status))
    for label, status in bad:
        answer = status or "nothing (connection closed)"
        row.failures.append(f"{answers[label, status]} x '{label}' answered {answer}")
    # A shop's message acknowledged and kept nowhere is lost for good. One for a number no
    # shop has is acknowledged, logged and counted, not stored (README): only reported.
    strays = [wamid for label, wamid in lost if label == "unknown number"]
    lost = [(label, wamid) for label, wamid in lost if label != "unknown number"]
    row.expect(
        not lost,
        f"{len(lost)} messages acknowledged 200 and neither stored nor kept as unhandled: "
        + ", ".join(f"{wamid} ({label})" for label, wamid in lost[:4]),
    )
    if strays:
        row.notes.append(f"{len(strays)} messages for an unknown number acknowledged, not stored")
    row.expect(
        health == 200 and ready == 200 and alive, f"afterwards /healthz {health}, /readyz {ready}"
    )
    row.expect(
        result.replies_expected > 0 and result.replies_sent == result.replies_expected,
        f"a customer writing afterwards got {result.replies_sent} of "
        f"{result.replies_expected} replies",
    )
    codes = Counter(status for (_, status), n in answers.items() for _ in range(n))
    row.notes.append("answers: " + ", ".join(f"{n} x {code}" for code, n in sorted(codes.items())))
    return row


DRILLS: dict[str, Callable[[Bench], Awaitable[Row]]] = {
    "duplicates": duplicates,
    "graph-faults": graph_faults,
    "kill-9": kill9,
    "db-outage": db_outage,
    "fuzz": fuzz,
}


# --- Shared steps --------------------------------------------------------------------------------


def _customers(bench: Bench, drill: str, shops: list[Shop]) -> list[Customer]:
    size = bench.size
    return make_customers(drill, shops, size.buyers, size.browsers, size.browse_length, bench.seed)


def _load(bench: Bench, meta: Meta, *, rate: float = 0.0) -> Load:
    return Load(meta, OutboxReader(bench.engine), Duplicates(rate, random.Random(bench.seed)))


async def _with_fault(work: Awaitable[None], fault: Awaitable[None]) -> None:
    """Run the customers and the fault side by side; the fault must have happened."""
    await asyncio.gather(work, fault)


async def _until(condition: Callable[[], bool], *, limit: float = 300.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _slow_call_out(fake: FakeCloud, numbers: list[str], age: float, answered: int) -> bool:
    """A call unanswered for `age` seconds while `answered` calls sent with it (or after it)
    have had their answers: the moment a crash shows what the sender has not recorded."""
    now = time.monotonic()
    calls = [call for call in fake.calls() if call.phone_number_id in numbers]
    waiting = [c for c in calls if c.answered_at is None and not c.abandoned]
    if not waiting:
        return False
    oldest = min(call.received_at for call in waiting)
    if now - oldest < age:
        return False
    return sum(1 for c in calls if c.received_at >= oldest - 0.5 and c.answered_at) >= answered
