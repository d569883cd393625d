"""Client-side retries for a fleet that loses replicas: tenacity + httpx.

Retry only what is safe to send twice. An embeddings request, or a non-streamed completion, changes nothing on
the server and its answer is only delivered when the whole response arrives, so a request that failed (reset
connection, 502/503/504, 429) can be sent again: the worst case is that the server did the work twice. A streamed
completion that has already delivered tokens is not retried here: a second attempt would start the text again
(and, with sampling, differently) after the user has seen part of the first.

Waits: exponential backoff with *full jitter* (tenacity's ``wait_random_exponential``: a uniform random wait in
[0, min(cap, base × 2^attempt)]), so clients that failed together do not come back together; a ``Retry-After``
header (seconds) from the server or the load balancer overrides it, capped at ``max_wait_s``.
"""

from __future__ import annotations

import httpx
from tenacity import (AsyncRetrying, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay,
                      wait_random_exponential)

RETRY_STATUS = {429, 502, 503, 504}  # overload, LB could not reach a replica, no replica up, LB timeout


def is_retryable(exc: BaseException) -> bool:
    """True for transport failures (connect error, reset, timeout) and the statuses in ``RETRY_STATUS``."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUS
    return isinstance(exc, httpx.TransportError)


class WaitRetryAfter:
    """tenacity wait: the ``Retry-After`` seconds of the last response if any, else full-jitter backoff."""

    def __init__(self, base_s: float = 0.05, max_wait_s: float = 5.0) -> None:
        self.backoff = wait_random_exponential(multiplier=base_s, max=max_wait_s)
        self.max_wait_s = max_wait_s

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, httpx.HTTPStatusError):
            value = exc.response.headers.get("Retry-After", "")
            if value.isdigit():
                return min(float(value), self.max_wait_s)
        return self.backoff(retry_state)


def policy(max_attempts: int = 6, max_total_s: float = 20.0, base_s: float = 0.05, max_wait_s: float = 5.0):
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying`` (re-raises the last error when it gives up)."""
    return dict(retry=retry_if_exception(is_retryable), wait=WaitRetryAfter(base_s, max_wait_s),
                stop=stop_after_attempt(max_attempts) | stop_after_delay(max_total_s), reraise=True)


def embed(client: httpx.Client, texts: list[str], model: str = "all-MiniLM-L6-v2", **retry) -> list[list[float]]:
    """POST /v1/embeddings with retries; returns one vector per text. Raises ``httpx.HTTPError`` when it gives up."""
    for attempt in Retrying(**policy(**retry)):
        with attempt:
            r = client.post("/v1/embeddings", json={"model": model, "input": texts})
            r.raise_for_status()
    return [d["embedding"] for d in r.json()["data"]]


async def embed_async(client: httpx.AsyncClient, texts: list[str], model: str = "all-MiniLM-L6-v2",
                      **retry) -> list[list[float]]:
    """The same with ``httpx.AsyncClient`` (what the chaos test's load generator runs)."""
    async for attempt in AsyncRetrying(**policy(**retry)):
        with attempt:
            r = await client.post("/v1/embeddings", json={"model": model, "input": texts})
            r.raise_for_status()
    return [d["embedding"] for d in r.json()["data"]]


if __name__ == "__main__":
    import os

    with httpx.Client(base_url=os.environ.get("BASE_URL", "http://127.0.0.1:8080"), timeout=10) as c:
        print(len(embed(c, ["spot capacity comes and goes"])[0]))
