"""Bounded FIFO admission for generation requests (``max_concurrent`` slots + ``max_queue`` waiting).

llama-cpp-python's server waits on an internal lock without bound; this gate answers instead:
full queue -> 429, queue wait over ``queue_timeout_s`` -> 503 (both with ``Retry-After``), and a
client that disconnects while queued gives its place back.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio


class Gate:
    """Bounded FIFO admission: ``slots`` requests run at once, at most ``max_queue`` wait.

    Wait order is FIFO (``anyio.Semaphore`` wakes waiters in arrival order).
    ``acquire`` returns ``None`` when a slot is held, else a rejection reason:
    ``"queue_full"`` (answer 429), ``"queue_timeout"`` (503) or ``"client_gone"``.
    ``running`` / ``waiting`` are plain ints read by ``/metrics`` and the drain thread.
    """

    def __init__(self, slots: int, max_queue: int, queue_timeout_s: float) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.running = 0
        self.waiting = 0
        self._sem: anyio.Semaphore | None = None
        self._ewma_s = 1.0  # smoothed service time (s) of one request, for Retry-After

    def _semaphore(self) -> anyio.Semaphore:
        if self._sem is None:  # created lazily inside the event loop
            self._sem = anyio.Semaphore(self.slots)
        return self._sem

    def _try_now(self) -> bool:
        """Take a free slot without waiting, if nobody is ahead."""
        if self.waiting:
            return False
        try:
            self._semaphore().acquire_nowait()
        except anyio.WouldBlock:
            return False
        self.running += 1
        return True

    async def acquire(self, receive: Callable[[], Awaitable[dict]]) -> str | None:
        """Take a slot, waiting if needed; ``receive`` is watched for ``http.disconnect`` meanwhile."""
        if self._try_now():
            return None
        if self.waiting >= self.max_queue:
            return "queue_full"
        self.waiting += 1
        try:
            acquired, gone = await self._wait(receive)
        finally:
            self.waiting -= 1
        if acquired and gone:
            self._semaphore().release()
            return "client_gone"
        if acquired:
            self.running += 1
            return None
        return "client_gone" if gone else "queue_timeout"

    async def _wait(self, receive: Callable[[], Awaitable[dict]]) -> tuple[bool, bool]:
        """Wait for the semaphore at most ``queue_timeout_s``; returns (acquired, client gone)."""
        sem = self._semaphore()
        acquired = gone = False
        with anyio.move_on_after(self.queue_timeout_s):
            async with anyio.create_task_group() as tg:
                async def watch() -> None:
                    nonlocal gone
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    gone = True
                    tg.cancel_scope.cancel()

                tg.start_soon(watch)
                await sem.acquire()
                acquired = True
                tg.cancel_scope.cancel()
        return acquired, gone

    def release(self, service_s: float) -> None:
        """Give the slot back; ``service_s`` (seconds held) updates the Retry-After estimate."""
        self.running -= 1
        self._ewma_s = 0.8 * self._ewma_s + 0.2 * service_s
        self._semaphore().release()

    def retry_after(self) -> int:
        """Seconds a rejected client should wait: queue ahead x smoothed service time / slots, 1..120."""
        est = (self.waiting + self.running) * self._ewma_s / self.slots
        return int(min(120, max(1, math.ceil(est))))
