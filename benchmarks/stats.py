"""Statistics of one load level: percentiles, TTFT / TPOT / ITL / e2e, cost. Pure functions, no I/O.

Definitions (the same as ``vllm bench serve``, vllm/benchmarks/serve.py):
TTFT = time from sending the request to the first streamed content chunk;
TPOT = (e2e - TTFT) / (output tokens - 1), per request with at least 2 output tokens;
ITL = every gap between consecutive streamed content chunks (all requests pooled);
e2e = request latency, send to last byte.
p99 is reported only from >= 100 samples (:data:`P99_MIN_SAMPLES`); below that the maximum, labelled.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: Fewest samples from which a p99 is reported (else the maximum is, labelled ``max``).
P99_MIN_SAMPLES = 100


def percentiles(values_s: Sequence[float]) -> dict[str, Any] | None:
    """p50/p90 and p99-or-max of ``values_s`` (seconds), returned in milliseconds rounded to 0.01 ms.

    Returns ``{"n", "p50_ms", "p90_ms", "p99_ms" | "max_ms", "mean_ms"}`` (``p99_ms`` only when
    ``n >= 100``, else ``max_ms``), or ``None`` for an empty input. Linear interpolation (numpy default).
    """
    if len(values_s) == 0:
        return None
    a = np.asarray(values_s, dtype=np.float64) * 1000.0
    out: dict[str, Any] = {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 2),
                           "p90_ms": round(float(np.percentile(a, 90)), 2), "mean_ms": round(float(a.mean()), 2)}
    if a.size >= P99_MIN_SAMPLES:
        out["p99_ms"] = round(float(np.percentile(a, 99)), 2)
    else:
        out["max_ms"] = round(float(a.max()), 2)
    return out


def tpot_s(e2e_s: float, ttft_s: float, output_tokens: int) -> float | None:
    """Time per output token after the first: ``(e2e - TTFT) / (output_tokens - 1)`` seconds.

    ``None`` when ``output_tokens < 2`` (undefined). Raises ``ValueError`` if ``ttft_s > e2e_s``.
    """
    if ttft_s > e2e_s:
        raise ValueError(f"TTFT {ttft_s} s after the end of the request {e2e_s} s")
    if output_tokens < 2:
        return None
    return (e2e_s - ttft_s) / (output_tokens - 1)


def itl_s(chunk_times_s: Sequence[float]) -> list[float]:
    """Inter-token latencies: the gaps between consecutive chunk arrival times (seconds, sorted input)."""
    return [b - a for a, b in zip(chunk_times_s, chunk_times_s[1:])]


def cost_per_million(usd_per_hour: float, units_per_s: float) -> float | None:
    """USD per 1,000,000 units (tokens or embeddings) at ``units_per_s`` sustained on an instance costing
    ``usd_per_hour``: ``usd_per_hour / (units_per_s * 3600) * 1e6``; ``None`` if ``units_per_s <= 0``."""
    if units_per_s <= 0:
        return None
    return usd_per_hour / (units_per_s * 3600.0) * 1e6


def summarize_chat(records: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """One chat level from per-request records ``{"ok", "e2e_s", "ttft_s", "chunk_times_s", "output_tokens",
    "prompt_tokens", "token_source"}`` (times relative to the request's send). ``wall_s``: first send to last
    completion. Output tokens/s = all output tokens of successful requests / ``wall_s``."""
    ok = [r for r in records if r["ok"]]
    out_tokens = sum(r["output_tokens"] for r in ok)
    tpots = [t for r in ok if r["ttft_s"] is not None
             for t in [tpot_s(r["e2e_s"], r["ttft_s"], r["output_tokens"])] if t is not None]
    itls = [g for r in ok for g in itl_s(r["chunk_times_s"])]
    prompt = [r["prompt_tokens"] for r in ok if r.get("prompt_tokens") is not None]
    return {
        "requests": len(records), "completed": len(ok), "failed": len(records) - len(ok),
        "errors": sorted({r["error"] for r in records if not r["ok"]})[:5],
        "duration_s": round(wall_s, 3),
        "output_tokens": out_tokens,
        "output_tokens_per_s": round(out_tokens / wall_s, 2) if wall_s > 0 else None,
        "requests_per_s": round(len(ok) / wall_s, 3) if wall_s > 0 else None,
        "mean_output_tokens": round(out_tokens / len(ok), 2) if ok else None,
        "mean_prompt_tokens": round(sum(prompt) / len(prompt), 2) if prompt else None,
        "token_source": sorted({r["token_source"] for r in ok}),
        "ttft": percentiles([r["ttft_s"] for r in ok if r["ttft_s"] is not None]),
        "tpot": percentiles(tpots),
        "itl": percentiles(itls),
        "e2e": percentiles([r["e2e_s"] for r in ok]),
    }


def summarize_embeddings(records: list[dict[str, Any]], wall_s: float, batch: int) -> dict[str, Any]:
    """One embeddings level from records ``{"ok", "e2e_s", "n"}`` (``n`` embeddings returned).
    Embeddings/s = embeddings of successful requests / ``wall_s``."""
    ok = [r for r in records if r["ok"]]
    n = sum(r["n"] for r in ok)
    return {
        "batch": batch, "requests": len(records), "completed": len(ok), "failed": len(records) - len(ok),
        "errors": sorted({r["error"] for r in records if not r["ok"]})[:5],
        "duration_s": round(wall_s, 3), "embeddings": n,
        "embeddings_per_s": round(n / wall_s, 2) if wall_s > 0 else None,
        "requests_per_s": round(len(ok) / wall_s, 3) if wall_s > 0 else None,
        "e2e": percentiles([r["e2e_s"] for r in ok]),
    }
