"""One OS thread for every llama.cpp call the library's server makes.

llama-cpp-python's server runs generation with Starlette's ``run_in_threadpool`` /
``iterate_in_threadpool``: each step (each token of a stream) may land on a different
worker thread of AnyIO's pool. llama.cpp's CPU backend (built with OpenMP, the default)
gives every distinct calling thread its own OpenMP team; once the process holds more
OpenMP threads than there are cores, libgomp stops spin-waiting at barriers and sleeps
on a futex instead, at every one of the hundreds of barriers per token. Measured here: steps
alternating between two calling threads decode at about a third of the one-thread speed
(results/bench.json, threads table, "calling OS threads" = 2); in the server this showed up
intermittently, depending on which pool thread picked up each step, with ~30k context
switches/s and the CPU half idle. Running every call on one dedicated thread keeps one
OpenMP team and in-process speed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

T = TypeVar("T")


class _Exhausted(Exception):
    """StopIteration cannot cross a Future; this stands in for it."""


def _next(iterator: Iterator[T]) -> T:
    try:
        return next(iterator)
    except StopIteration:
        raise _Exhausted from None


class EngineThread:
    """A single-thread executor with the semantics of Starlette's threadpool helpers.

    Like ``anyio.to_thread.run_sync`` (no abandon on cancel), a cancelled caller waits for the
    running call to finish before the cancellation is delivered, so a Llama object is never
    used by two calls at once and a freed slot means the engine is idle.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-engine")

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func(*args, **kwargs)`` on the engine thread and return its result."""
        future = self._pool.submit(functools.partial(func, *args, **kwargs))
        with anyio.CancelScope(shield=True):
            result = await asyncio.wrap_future(future)
        await anyio.lowlevel.checkpoint_if_cancelled()
        return result

    async def iterate(self, iterator: Iterator[T]) -> AsyncIterator[T]:
        """Async iterator over ``iterator``, each ``next()`` on the engine thread.

        One step at a time, as Starlette's ``iterate_in_threadpool`` does. (Tried: letting the
        engine thread run ahead by a few tokens so that sending one token overlaps computing
        the next. On 2 cores it did not help: the overlap takes CPU from llama.cpp's threads.)
        """
        while True:
            try:
                yield await self.run(_next, iterator)
            except _Exhausted:
                return

    def shutdown(self) -> None:
        """Stop the thread after the running call (no new calls accepted)."""
        self._pool.shutdown(wait=False)
