"""Overload (queue policy) and SIGTERM under load, each on its own server started by the launcher."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import numpy as np

from triton_embeddings.launcher import Server

LONG = " ".join(["The quick brown fox jumps over the lazy dog near the quiet river bank."] * 12)  # ~200 tokens


async def _fire(url: str, n: int, batch: int, timeout_s: float = 60) -> list[tuple[int, dict]]:
    body = {"inputs": [{"name": "TEXT", "datatype": "BYTES", "shape": [batch, 1], "data": [LONG] * batch}]}
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s,
                                 limits=httpx.Limits(max_connections=n)) as c:
        async def one(i: int):
            try:
                r = await c.post("/v2/models/minilm/infer", json=body)
                return r.status_code, r.json()
            except httpx.HTTPError as exc:
                return -1, {"error": type(exc).__name__}
        return await asyncio.gather(*(one(i) for i in range(n)))


def test_full_queue_rejects_with_503_and_recovers():
    # queue of 2 per model: a burst of 24 requests (each a batch of 8 long sentences) cannot all wait
    with Server(env={"TRITON_EMB_MAX_QUEUE_SIZE": "2", "TRITON_EMB_LOAD_MODELS": "minilm",
                     "TRITON_EMB_MAX_QUEUE_DELAY_US": "0"}) as s:
        results = asyncio.run(_fire(s.url, n=24, batch=8))
        codes = sorted(c for c, _ in results)
        assert -1 not in codes, codes                       # no reset connection
        assert set(codes) <= {200, 503}, codes
        rejected = [b for c, b in results if c == 503]
        assert rejected and all("maximum queue size" in b["error"] for b in rejected), results[:3]
        assert codes.count(200) >= 2
        # the server keeps serving once the burst is over
        r = httpx.post(f"{s.url}/v2/models/minilm/infer", json={"inputs": [
            {"name": "TEXT", "datatype": "BYTES", "shape": [1, 1], "data": ["after the burst"]}]})
        assert r.status_code == 200


def test_queue_timeout_rejects_requests_that_waited_too_long():
    # 1 ms queue timeout: under a burst, requests that wait longer in a queue are rejected, not run late
    with Server(env={"TRITON_EMB_QUEUE_TIMEOUT_US": "1000", "TRITON_EMB_LOAD_MODELS": "minilm"}) as s:
        results = asyncio.run(_fire(s.url, n=16, batch=8))
        codes = [c for c, _ in results]
        assert -1 not in codes and set(codes) <= {200, 503}, codes
        timed_out = [b["error"] for c, b in results if c == 503]
        assert timed_out and all("timeout" in e.lower() for e in timed_out), timed_out[:2]


def test_sigterm_finishes_in_flight_requests_and_exits_0():
    # no queue timeout: on a busy shared machine a 10 s queue wait is possible, and this test is about SIGTERM
    s = Server(env={"TRITON_EMB_LOAD_MODELS": "minilm", "TRITON_EMB_DRAIN_TIMEOUT_S": "60",
                    "TRITON_EMB_QUEUE_TIMEOUT_US": "0"}).start()
    try:
        async def scenario():
            task = asyncio.create_task(_fire(s.url, n=12, batch=8))
            await asyncio.sleep(0.5)  # requests are queued / executing (12 x 8 long sentences ~ seconds)
            stats = httpx.get(f"{s.url}/v2/models/minilm/stats").json()["model_stats"][0]
            t_signal = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            # Triton 2.51 stops serving new connections at SIGTERM (declared deviation drain.sigterm:
            # readiness is not answered with 503, the connection is closed instead)
            try:
                ready = httpx.get(f"{s.url}/v2/health/ready", timeout=5).status_code
            except httpx.HTTPError:
                ready = -1
            try:
                late = httpx.post(f"{s.url}/v2/models/minilm/infer", timeout=10, json={"inputs": [
                    {"name": "TEXT", "datatype": "BYTES", "shape": [1, 1], "data": ["late"]}]}).status_code
            except httpx.HTTPError:
                late = -1
            return await task, stats, t_signal, ready, late

        results, stats, t_signal, ready, late = asyncio.run(scenario())
        rc = s.proc.wait(60)
        done_at = time.monotonic()
    finally:
        s.stop()
    assert stats["inference_count"] < 12 * 8, "the load finished before SIGTERM; the test proves nothing"
    assert [c for c, _ in results] == [200] * 12, results  # nothing in flight was lost
    assert ready != 200 and late != 200                    # draining: no longer ready, new work refused
    assert rc == 0 and done_at - t_signal < 60
