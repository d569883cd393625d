"""MicroBatcher unit tests with a fake inference function (fast, deterministic)."""

import asyncio
import threading

import numpy as np
import pytest

from onnx_embeddings.batcher import MicroBatcher, QueueFull, Stopped


def fake_infer(calls, delay=0.0):
    def infer(items):
        calls.append(len(items))
        if delay:
            threading.Event().wait(delay)
        return np.array([[float(x)] for x in items], dtype=np.float32)
    return infer


def test_concurrent_requests_share_one_call():
    async def main():
        calls = []
        b = MicroBatcher(fake_infer(calls), max_batch_size=16, max_wait_ms=50, max_queue=100)
        b.start()
        outs = await asyncio.gather(*(b.submit([i]) for i in range(10)))
        await b.stop()
        return calls, outs
    calls, outs = asyncio.run(main())
    assert calls == [10]
    assert [o[0, 0] for o in outs] == list(range(10))  # each caller gets its own row back


def test_batches_are_capped_and_order_kept():
    async def main():
        calls = []
        b = MicroBatcher(fake_infer(calls), max_batch_size=4, max_wait_ms=0, max_queue=100)
        b.start()
        out = await b.submit(list(range(10)))
        await b.stop()
        return calls, out
    calls, out = asyncio.run(main())
    assert max(calls) <= 4 and sum(calls) == 10
    assert out[:, 0].tolist() == list(range(10))


def test_queue_full_is_refused_whole():
    async def main():
        calls = []
        b = MicroBatcher(fake_infer(calls, delay=0.2), max_batch_size=2, max_wait_ms=0, max_queue=3)
        b.start()
        first = asyncio.create_task(b.submit([1, 2]))  # taken into the running batch
        await asyncio.sleep(0.05)
        second = asyncio.create_task(b.submit([3, 4, 5]))  # fills the queue
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await b.submit([6])
        await asyncio.gather(first, second)
        await b.stop()
        with pytest.raises(Stopped):
            await b.submit([7])
        return calls
    calls = asyncio.run(main())
    assert sum(calls) == 5


def test_inference_errors_reach_every_caller():
    def boom(items):
        raise RuntimeError("bad batch")

    async def main():
        b = MicroBatcher(boom, max_batch_size=8, max_wait_ms=20, max_queue=10)
        b.start()
        res = await asyncio.gather(b.submit([1]), b.submit([2]), return_exceptions=True)
        await b.stop()
        return res
    res = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in res)


def test_cancelled_requests_are_skipped():
    async def main():
        calls = []
        b = MicroBatcher(fake_infer(calls, delay=0.1), max_batch_size=8, max_wait_ms=0, max_queue=10)
        b.start()
        first = asyncio.create_task(b.submit([1]))
        await asyncio.sleep(0.02)
        doomed = asyncio.create_task(b.submit([2, 3]))
        await asyncio.sleep(0)
        doomed.cancel()
        await first
        await b.stop()
        return calls
    assert asyncio.run(main()) == [1]


def test_sequential_traffic_does_not_wait_for_company():
    """A lone request after a batch of one runs at once instead of waiting max_wait (here 60 s)."""
    async def main():
        calls = []
        b = MicroBatcher(fake_infer(calls), max_batch_size=8, max_wait_ms=60_000, max_queue=10)
        b.start()
        for i in range(3):
            await asyncio.wait_for(b.submit([i]), timeout=30)
        await b.stop()
        return calls
    assert asyncio.run(main()) == [1, 1, 1]
