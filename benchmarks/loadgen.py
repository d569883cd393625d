"""One load generator per task for every backend of it; backends differ only by a small adapter.

Chat: async httpx (streaming; the cross-check with ``vllm bench serve`` agrees within 10 %). Embeddings: aiohttp,
the client ``vllm bench serve`` uses: an embedding request takes a few milliseconds, so the client's own cost per
request is a visible share of a 2-core machine, and httpx's async client costs more CPU per request than aiohttp's
(the first cross-check, with httpx, measured 17 % fewer requests/s than ``vllm bench serve`` at the same point).

Adapters: OpenAI chat completions with streaming (TTFT and ITL from the SSE chunks), OpenAI embeddings,
KServe v2 ``/v2/models/<model>/infer`` (Triton). Each level sends ``n`` requests with at most ``concurrency``
in flight (a closed loop: a new request starts when one finishes, like ``vllm bench serve
--max-concurrency --request-rate inf``). Only 127.0.0.1 URLs are accepted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any, Callable
from urllib.parse import urlparse

import aiohttp
import httpx

from . import stats

#: Word list for random prompts and sentences (common English words: about one SmolLM2 token each).
WORDS = ("time year people way day man thing woman life child world school state family student group country "
         "problem hand part place case week company system program question work government number night point "
         "home water room mother area money story fact month lot right study book eye job word business issue "
         "side kind head house service friend father power hour game line end member law car city community name "
         "president team minute idea kid body information back parent face others level office door health "
         "person art war history party result change morning reason research girl guy moment air teacher force "
         "education").split()


def prompts(n: int, words: int, seed: int) -> list[str]:
    """``n`` deterministic random prompts of ``words`` words each (``random.Random(seed)``)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(n)]


def _local(url: str) -> str:
    host = urlparse(url).hostname
    if host != "127.0.0.1":
        raise ValueError(f"load goes to 127.0.0.1 only, not {host!r}")
    return url.rstrip("/")


async def _closed_loop(n: int, concurrency: int, one: Callable[[int], Any]) -> tuple[list[dict], float]:
    """Run ``one(i)`` for i in range(n) with at most ``concurrency`` at once; returns (records, wall seconds)."""
    queue = list(range(n))
    records: list[dict] = []

    async def worker() -> None:
        while queue:
            records.append(await one(queue.pop(0)))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return records, time.perf_counter() - t0


def _error(e: BaseException | httpx.Response) -> str:
    if isinstance(e, httpx.Response):
        return f"HTTP {e.status_code}: {e.text[:160]}"
    return f"{type(e).__name__}: {str(e)[:160]}"


def chat_body(model: str, prompt: str, max_tokens: int, extras: dict[str, Any]) -> dict[str, Any]:
    """Request body: one user message, greedy (temperature 0), streamed, ``max_tokens`` plus ``extras``
    (``ignore_eos``, ``logit_bias``, ``stream_options`` as the target allows)."""
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0.0, "stream": True, **extras}


async def chat_request(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed chat completion. Returns a record for :func:`stats.summarize_chat`; output tokens from the
    last chunk's ``usage.completion_tokens`` when the server sends it, else the number of content chunks."""
    t0 = time.perf_counter()
    times: list[float] = []
    usage = None
    try:
        async with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
            if r.status_code != 200:
                await r.aread()
                return {"ok": False, "error": _error(r)}
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for ch in chunk.get("choices") or []:
                    if (ch.get("delta") or {}).get("content"):
                        times.append(time.perf_counter() - t0)
                        break
        e2e = time.perf_counter() - t0
    except (httpx.HTTPError, json.JSONDecodeError) as e:
        return {"ok": False, "error": _error(e)}
    if not times:
        return {"ok": False, "error": "no content chunk in the stream"}
    from_usage = bool(usage and usage.get("completion_tokens"))
    return {"ok": True, "e2e_s": e2e, "ttft_s": times[0], "chunk_times_s": times,
            "output_tokens": int(usage["completion_tokens"]) if from_usage else len(times),
            "prompt_tokens": (usage or {}).get("prompt_tokens"), "token_source": "usage" if from_usage else "chunks"}


async def embed_request(client: aiohttp.ClientSession, url: str, api: str, model: str,
                        inputs: list[str]) -> dict[str, Any]:
    """One embeddings request of ``len(inputs)`` sentences (OpenAI or KServe v2); checks the count returned."""
    t0 = time.perf_counter()
    try:
        if api == "kserve-v2":
            body = {"inputs": [{"name": "TEXT", "shape": [len(inputs), 1], "datatype": "BYTES", "data": inputs}],
                    "outputs": [{"name": "EMBEDDING"}]}
            target = f"{url}/v2/models/{model}/infer"
        else:
            body, target = {"model": model, "input": inputs}, url + "/v1/embeddings"
        async with client.post(target, json=body) as r:
            raw = await r.read()
            if r.status != 200:
                return {"ok": False, "error": f"HTTP {r.status}: {raw[:160].decode('utf-8', 'replace')}"}
        doc = json.loads(raw)
        n = int(doc["outputs"][0]["shape"][0]) if api == "kserve-v2" else len(doc["data"])
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError, IndexError) as e:
        return {"ok": False, "error": _error(e)}
    if n != len(inputs):
        return {"ok": False, "error": f"{n} embeddings for {len(inputs)} inputs"}
    return {"ok": True, "e2e_s": time.perf_counter() - t0, "n": n}


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _client(concurrency: int, timeout_s: float) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=30), limits=limits, trust_env=False)


def run_chat_level(url: str, model: str, concurrency: int, n: int, prompt_list: list[str], max_tokens: int,
                   extras: dict[str, Any], timeout_s: float = 300) -> dict[str, Any]:
    """One chat level: ``n`` streamed requests (prompt ``i % len(prompt_list)``), ``concurrency`` in flight.
    Returns :func:`stats.summarize_chat` plus ``concurrency`` and the client's CPU share (this process's
    CPU seconds / wall seconds / logical cores)."""
    url = _local(url)

    async def go() -> tuple[list[dict], float]:
        async with _client(concurrency, timeout_s) as c:
            return await _closed_loop(n, concurrency, lambda i: chat_request(
                c, url, chat_body(model, prompt_list[i % len(prompt_list)], max_tokens, extras)))

    cpu0 = _cpu_s()
    records, wall = asyncio.run(go())
    cpu = _cpu_s() - cpu0
    return {"concurrency": concurrency, **stats.summarize_chat(records, wall),
            "client_cpu_s": round(cpu, 3), "client_cpu_share": round(cpu / wall / (os.cpu_count() or 1), 4),
            "client_cpu_pct": round(100 * cpu / wall / (os.cpu_count() or 1), 1)}


def run_embed_level(url: str, api: str, model: str, concurrency: int, n: int, batch: int,
                    sentences: list[str], timeout_s: float = 300) -> dict[str, Any]:
    """One embeddings level: ``n`` requests of ``batch`` sentences each, ``concurrency`` in flight.
    Returns :func:`stats.summarize_embeddings` plus ``concurrency`` and the client's CPU share."""
    url = _local(url)

    def pick(i: int) -> list[str]:
        return [sentences[(i * batch + k) % len(sentences)] for k in range(batch)]

    async def go() -> tuple[list[dict], float]:
        conn = aiohttp.TCPConnector(limit=concurrency + 2)
        async with aiohttp.ClientSession(connector=conn, trust_env=False,
                                         timeout=aiohttp.ClientTimeout(total=timeout_s, connect=30)) as c:
            return await _closed_loop(n, concurrency, lambda i: embed_request(c, url, api, model, pick(i)))

    cpu0 = _cpu_s()
    records, wall = asyncio.run(go())
    cpu = _cpu_s() - cpu0
    return {"concurrency": concurrency, **stats.summarize_embeddings(records, wall, batch),
            "client_cpu_s": round(cpu, 3), "client_cpu_share": round(cpu / wall / (os.cpu_count() or 1), 4),
            "client_cpu_pct": round(100 * cpu / wall / (os.cpu_count() or 1), 1)}
