"""The engine thread: every call on one OS thread, cancellation waits for the running call."""

from __future__ import annotations

import threading
import time

import anyio

from llamacpp_server.engine import EngineThread


def test_all_calls_and_iteration_steps_run_on_one_thread():
    engine = EngineThread()
    seen = set()

    def gen():
        for i in range(5):
            seen.add(threading.get_ident())
            yield i

    results = []

    async def one():
        seen.add(await engine.run(threading.get_ident))
        results.append([x async for x in engine.iterate(gen())])

    async def main():
        async with anyio.create_task_group() as tg:  # concurrent callers
            for _ in range(4):
                tg.start_soon(one)

    anyio.run(main)
    assert results == [[0, 1, 2, 3, 4]] * 4
    assert len(seen) == 1 and threading.get_ident() not in seen
    engine.shutdown()


def test_cancelled_caller_waits_for_the_running_call():
    engine = EngineThread()
    state = {}

    def slow():
        time.sleep(0.3)
        state["finished"] = time.monotonic()

    async def main():
        with anyio.move_on_after(0.05):
            await engine.run(slow)
        state["returned"] = time.monotonic()

    anyio.run(main)
    assert state["returned"] >= state["finished"]  # not abandoned mid-call
    engine.shutdown()
