"""The bench's own logic without servers (fast): the request-id adjustment, table rows, the crossover."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from vllm_recipe import bench
from vllm_recipe.vllm_bench import _uuid_request_ids


def test_request_ids_become_uuids():
    from vllm.benchmarks.lib import endpoint_request_func as erf

    original = erf._update_headers_common
    try:
        _uuid_request_ids()
        headers: dict = {}
        erf._update_headers_common(headers, SimpleNamespace(extra_headers=None, request_id="bench-x-7"))
        assert uuid.UUID(headers["x-request-id"]) == uuid.uuid5(uuid.NAMESPACE_URL, "bench-x-7")
    finally:
        erf._update_headers_common = original


def _result(c: int, n: int, tps: float) -> dict:
    r = {"completed": n, "num_prompts": n, "failed": 0, "output_throughput": tps, "request_throughput": 1.0,
         "request_goodput": 0.5, "ttfts": [0.1] * (n - 1) + [0.4], "itls": [[0.02] * 31 for _ in range(n)],
         "output_lens": [32] * n, "client_cpu_s": 1.0, "wall_s": 4.0}
    for m in bench.METRICS:
        for p in (50, 90, 99):
            r[f"p{p}_{m}_ms"] = 1.0
    return r


def test_p99_needs_100_samples_else_the_max_is_shown():
    cols = ["ttft p50", "ttft p90", "ttft p99"]
    few = bench._row("x", 1, _result(1, 10, 5.0))
    many = bench._row("x", 16, _result(16, 160, 5.0))
    i = 8 + 2  # server, c, prompts, completed, failed, tok/s, req/s, goodput, then TTFT p50, p90, p99
    assert few[i] == "max 400.0", (cols, few)
    assert many[i] == 1.0
    assert few[-1] == 25.0  # client CPU: 1 s over 4 s wall = 25 % of one core


def test_crossover_sentence():
    levels = [1, 4, 16]
    vllm = {c: {"output_throughput": t} for c, t in zip(levels, [20, 100, 120])}
    lcpp = {c: {"output_throughput": t} for c, t in zip(levels, [50, 45, 45])}
    assert bench.crossover(levels, vllm, lcpp).startswith("crossover between concurrency 1 and 4")
    assert "no crossover" in bench.crossover(levels, lcpp, {c: {"output_throughput": 1} for c in levels})
