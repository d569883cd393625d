"""Dynamic micro-batching: gather concurrent requests into one inference call on a worker thread.

This is *dynamic batching* (Triton's term): requests that arrive within ``max_wait_ms`` of the first
waiting one, or while the previous batch is still running, are stacked into one batch of at most
``max_batch_size`` items. (LLM servers do *continuous* batching, re-forming the batch every decode step;
an encoder makes one forward pass per input, so dynamic batching is the right tool.)

One worker thread runs the inference function, so there is exactly one ``session.run`` at a time and
ONNX Runtime's intra-op threads have the cores; the event loop keeps parsing HTTP and tokenising
meanwhile. The queue is bounded: ``submit`` raises ``QueueFull`` instead of letting latency grow without
limit — the HTTP layer turns that into ``503`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class QueueFull(Exception):
    """The batcher holds ``max_queue`` items already; retry later."""


class Stopped(Exception):
    """The batcher is stopped and accepts no work."""


class MicroBatcher(Generic[T]):
    """Batch items from concurrent ``submit`` calls into calls of ``infer(list[T]) -> ndarray [n, ...]``.

    max_batch_size: most items per ``infer`` call. max_wait_ms: how long the first waiting item waits for
    company (ms; 0 = take what is queued); not applied to sequential traffic (a lone item after a batch of 1).
    max_queue: most items waiting (not yet in a running batch).
    on_batch(size, seconds): called on the event loop after each ``infer`` (metrics hook).
    """

    def __init__(self, infer: Callable[[list[T]], np.ndarray], max_batch_size: int = 32,
                 max_wait_ms: float = 2.0, max_queue: int = 512,
                 on_batch: Callable[[int, float], None] | None = None) -> None:
        self.infer = infer
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._pending: collections.deque[tuple[T, asyncio.Future]] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infer")
        self._stopping = False
        self._last_batch = 0

    @property
    def depth(self) -> int:
        """Items waiting for a batch (not counting the batch being run)."""
        return len(self._pending)

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="micro-batcher")

    async def stop(self) -> None:
        """Finish everything queued, then stop the loop and the worker thread."""
        self._stopping = True
        if self._wakeup:
            self._wakeup.set()
        if self._task:
            await self._task
        self._executor.shutdown(wait=True)

    async def submit(self, items: Sequence[T]) -> np.ndarray:
        """Queue ``items`` (all or none) and wait for their rows: ndarray [len(items), ...].

        Raises ``QueueFull`` if they do not fit, ``Stopped`` after ``stop()``, or whatever ``infer`` raised.
        """
        if self._stopping or self._task is None:
            raise Stopped("batcher is not running")
        if len(self._pending) + len(items) > self.max_queue:
            raise QueueFull(f"queue holds {len(self._pending)} of {self.max_queue} items")
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in items]
        self._pending.extend(zip(items, futs))
        self._wakeup.set()
        try:
            rows = await asyncio.gather(*futs)
        except asyncio.CancelledError:  # client went away: drop our items if not yet taken
            for f in futs:
                f.cancel()
            raise
        return np.stack(rows)

    def _take(self) -> list[tuple[T, asyncio.Future]]:
        batch = []
        while self._pending and len(batch) < self.max_batch_size:
            item, fut = self._pending.popleft()
            if not fut.done():  # skip cancelled
                batch.append((item, fut))
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # wait up to max_wait for the batch to fill; skipped when full, stopping, or when traffic is
            # sequential (one item waiting and the previous batch was a single item too): a lone caller
            # should not pay max_wait for company that is not coming
            alone = len(self._pending) == 1 and self._last_batch <= 1
            deadline = loop.time() + self.max_wait
            while len(self._pending) < self.max_batch_size and not self._stopping and not alone:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            batch = self._take()
            if not batch:
                continue
            self._last_batch = len(batch)
            t0 = time.perf_counter()
            try:
                out = await loop.run_in_executor(self._executor, self.infer, [b[0] for b in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            dt = time.perf_counter() - t0
            for i, (_, fut) in enumerate(batch):
                if not fut.done():
                    fut.set_result(out[i])
            if self.on_batch:
                self.on_batch(len(batch), dt)
