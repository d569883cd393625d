"""``make bench``: in-process llama-cpp-python vs the served endpoint, in one run.

Writes ``results/bench.json`` (shape: see ``provenance.py``) and ``results/bench.png``.

Measured, in order (nothing else of the recipe runs during a part; the machine may be shared
with other work, so the 1-min load average is recorded along with each part):

1. In-process, per model, at the default thread count: prefill tokens/s (``Llama.eval`` of a
   ~256-token prompt, median of 3), decode tokens/s and TTFT (streamed
   ``create_chat_completion`` / ``create_completion``, EOS banned so every run makes
   ``decode_tokens`` tokens, median of 7).
2. Threads: SmolLM2 and Gemma decode tokens/s at 1, 2, and cores+1 threads on a quiet box,
   at 1 and 2 threads while one extra process burns a core (oversubscription), and at 2 threads
   with the stream's steps alternating between 2 calling OS threads.
3. Memory: RSS of a fresh process holding one model (n_ctx 2048), minus the RSS of the
   same process before loading, per model.
4. Served: ``python -m llamacpp_server`` (both models, default settings). First single-stream
   served vs in-process, interleaved prompt by prompt (``paired``) at the default threads and
   again on a 1-thread server; then httpx streaming clients at concurrency 1, 2, 4, 8
   (SmolLM2 chat, ``decode_tokens`` per request, ``num_prompts = 10 x concurrency``): TTFT p50 and
   tail, ITL p50 and tail, per-stream and aggregate tokens/s, end-to-end p50 and tail, goodput under
   an SLO; then single-stream TTFT with httpx's default client (Nagle on).

The in-process side loads its models with :func:`~.models.load_model` from the same
:func:`~.models.model_settings` as the server (n_ctx, threads, ``logits_all=False``,
``use_mlock=False``, extra buffer types), so both sides run the same ``Llama`` configuration.

Definitions: TTFT = request sent -> first generated token received. ITL = gap between
consecutive streamed chunks of one stream (one token each here). TPOT = (e2e - TTFT) / (output
tokens - 1). Decode tokens/s (one stream) = (tokens - 1) / (last - first token time). Aggregate
tokens/s = all tokens of a concurrency level / its wall time. Tail: p99 only from >= 100 samples;
with fewer the maximum is reported and labelled ``max``. Goodput = requests per second that met the
SLO (TTFT <= ``SLO_TTFT_MS`` and TPOT <= ``SLO_TPOT_MS``).

Size: ``python -m llamacpp_server.bench --smoke`` (or ``make bench BENCH_ARGS=--smoke``) is a short
run (fewer tokens, prompts and levels) for checking the bench itself; the published results come
from the default size.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from . import provenance
from .models import eog_logit_bias, gemma3_path, load_model, model_settings, smollm2_path, use_extra_buffer_types
from .settings import Settings, auto_threads

log = logging.getLogger("llamacpp_server.bench")

RECIPE = Path(__file__).resolve().parents[1]
SMOL, GEMMA = "smollm2-135m-instruct", "gemma3-270m"
N_CTX = Settings().n_ctx  # the server's default context (2048), both sides
#: Percentiles are only reported from this many samples; below it the maximum, labelled "max".
MIN_SAMPLES_P99 = 100
#: The SLO goodput is measured under (ms): interactive chat on a laptop-class CPU.
SLO_TTFT_MS, SLO_TPOT_MS = 1000.0, 50.0
#: Goals of the served/in-process comparison (README, "Measured results").
GOAL_DECODE_RATIO_PCT, GOAL_TTFT_OVERHEAD_MS = 95.0, 10.0


@dataclasses.dataclass(frozen=True)
class Size:
    """How much the bench runs. ``paired_prompts``: prompts of the interleaved comparison (each
    shares "Request " with the previous one, so KV-cache prefix reuse is the same on both sides)."""

    decode_tokens: int = 64
    concurrency: tuple[int, ...] = (1, 2, 4, 8)
    paired_prompts: int = 10
    in_process_runs: int = 7
    thread_runs: int = 2
    thread_tokens: int = 48


FULL = Size()
SMOKE = Size(decode_tokens=16, concurrency=(1, 2), paired_prompts=3, in_process_runs=3, thread_runs=1,
             thread_tokens=16)
SIZE = FULL  # set by main()


def pct(values: list[float], p: float) -> float:
    """Percentile ``p`` (0-100) with linear interpolation (numpy's default method); NaN if empty."""
    import numpy as np

    return float(np.percentile(values, p)) if values else float("nan")


def tail(values: list[float]) -> dict[str, Any]:
    """The tail of a sample: ``{"value", "label", "n"}``; label ``p99`` from >= 100 samples, else ``max``."""
    if len(values) >= MIN_SAMPLES_P99:
        return {"value": pct(values, 99), "label": "p99", "n": len(values)}
    return {"value": max(values) if values else float("nan"), "label": "max", "n": len(values)}


def load_avg() -> float:
    """1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _server_settings(paths: dict[str, Path], threads: int) -> Settings:
    """The settings the bench's server runs with (both models, ``threads`` llama.cpp threads)."""
    return Settings(n_threads=threads, model_path=str(paths[SMOL]), extra_model_path=str(paths[GEMMA]))


def _llama(paths: dict[str, Path], model: str, threads: int):
    """``model`` loaded in this process exactly as the server loads it (same ModelSettings, same loader)."""
    s = _server_settings(paths, threads)
    ms = next(m for m in model_settings(s) if m.model_alias == model)
    return load_model(ms, use_extra_buffer_types(s))


def _chat(i: int) -> list[dict]:
    # A distinct first token per request: the library reuses the KV cache of a common prompt
    # prefix, so repeating one prompt would hide the prefill cost.
    return [{"role": "user", "content": f"Request {i}: write a long story about a lighthouse keeper."}]


def _prompt(i: int) -> str:
    return f"Story {i}. The lighthouse keeper climbed the stairs and"


def stream_in_process(llama, model: str, i: int, max_tokens: int | None = None, callers: int = 1) -> dict[str, float]:
    """One streamed generation in-process; returns ttft_ms, decode tok/s, tokens.

    ``callers`` > 1: consecutive steps of the stream run on ``callers`` different OS threads in
    turn, as they can when a server hands each step to a thread pool (see ``engine.py``).
    """
    from concurrent.futures import ThreadPoolExecutor

    max_tokens = max_tokens or SIZE.decode_tokens
    bias = eog_logit_bias(llama)
    pools = [ThreadPoolExecutor(1) for _ in range(callers)] if callers > 1 else []
    t0 = time.perf_counter()
    if model == SMOL:
        it = llama.create_chat_completion(messages=_chat(i), max_tokens=max_tokens, temperature=0, stream=True,
                                          logit_bias=bias)
        text = lambda c: (c["choices"][0]["delta"] or {}).get("content")  # noqa: E731
    else:
        it = llama.create_completion(prompt=_prompt(i), max_tokens=max_tokens, temperature=0, stream=True,
                                     logit_bias=bias)
        text = lambda c: c["choices"][0]["text"]  # noqa: E731
    times, k = [], 0
    while True:
        try:
            chunk = pools[k % callers].submit(next, it).result() if pools else next(it)
        except StopIteration:
            break
        k += 1
        if text(chunk):
            times.append(time.perf_counter())
    for pool in pools:
        pool.shutdown()
    return {"ttft_ms": (times[0] - t0) * 1000, "tokens": len(times),
            "decode_tps": (len(times) - 1) / (times[-1] - times[0])}


def prefill_tps(llama, n_tokens: int = 256, reps: int = 3) -> float:
    """Prompt tokens evaluated per second (``Llama.eval`` of ``n_tokens`` tokens, median)."""
    text = " ".join(f"word{i}" for i in range(n_tokens))
    tokens = llama.tokenize(text.encode(), add_bos=True)[:n_tokens]
    rates = []
    for _ in range(reps):
        llama.reset()
        t0 = time.perf_counter()
        llama.eval(tokens)
        rates.append(len(tokens) / (time.perf_counter() - t0))
    llama.reset()
    return statistics.median(rates)


def in_process(paths: dict[str, Path], threads: int) -> dict[str, Any]:
    """Part 1: prefill/decode tokens/s and TTFT per model at ``threads`` threads (medians)."""
    out: dict[str, Any] = {}
    for model in paths:
        llama = _llama(paths, model, threads)
        stream_in_process(llama, model, 0, 8)  # warm-up
        runs = [stream_in_process(llama, model, i) for i in range(1, SIZE.in_process_runs + 1)]
        out[model] = {"threads": threads, "load_avg_1m": load_avg(),
                      "prefill_tps": prefill_tps(llama, reps=3 if SIZE is FULL else 1),
                      "decode_tps": statistics.median(r["decode_tps"] for r in runs),
                      "ttft_ms": statistics.median(r["ttft_ms"] for r in runs), "runs": runs}
        llama.close()
    return out


def threads_sweep(paths: dict[str, Path]) -> list[dict[str, Any]]:
    """Part 2: decode tokens/s against threads, quiet and with one busy extra process; and with
    the steps of one stream alternating between 2 calling OS threads (what ``engine.py`` prevents)."""
    cores = os.cpu_count() or 1
    configs = [(t, False, 1) for t in sorted({1, 2, cores + 1})] + [(1, True, 1), (2, True, 1), (2, False, 2)]
    rows = []
    for model in paths:
        for threads, busy, callers in configs:
            burner = None
            if busy:
                burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(1.0)
            try:
                llama = _llama(paths, model, threads)
                stream_in_process(llama, model, 0, 4)
                rates = [stream_in_process(llama, model, i + 1, SIZE.thread_tokens, callers)["decode_tps"]
                         for i in range(SIZE.thread_runs)]
                llama.close()
            finally:
                if burner is not None:
                    burner.terminate()
                    burner.wait()
            rows.append({"model": model, "threads": threads, "busy_process": busy, "calling_threads": callers,
                         "decode_tps": statistics.median(rates), "load_avg_1m": load_avg()})
            time.sleep(0.5)
    return rows


_RSS_SNIPPET = """
import json, sys, psutil
from llamacpp_server.models import load_model, model_settings, use_extra_buffer_types
from llamacpp_server.settings import Settings
p = psutil.Process()
s = Settings(model_path=sys.argv[1], extra_model_path="none")
base = p.memory_info().rss
llm = load_model(model_settings(s)[0], use_extra_buffer_types(s))
llm.create_completion("Hello", max_tokens=8, temperature=0)
sys.stdout.write(json.dumps({"rss_mb": p.memory_info().rss / 2**20,
                             "delta_mb": (p.memory_info().rss - base) / 2**20}) + "\\n")
"""


def memory(paths: dict[str, Path]) -> dict[str, Any]:
    """Part 3: RSS (MB) of one process per model (loaded like the server's), and the model's share
    (RSS after loading and one generation - before)."""
    out = {}
    for model, path in paths.items():
        res = subprocess.run([sys.executable, "-c", _RSS_SNIPPET, str(path)], capture_output=True,
                             text=True, timeout=300, check=True, cwd=RECIPE)
        out[model] = {**json.loads(res.stdout.strip().splitlines()[-1]), "file_mb": path.stat().st_size / 2**20}
    return out


def _client(nodelay: bool = True) -> httpx.Client:
    """A keep-alive httpx client; ``nodelay`` sets TCP_NODELAY (httpx does not by default).

    Without it the request's header and body segments can wait on the server's delayed ACK
    (Nagle's algorithm), which shows up as extra TTFT - measured separately below.
    """
    opts = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if nodelay else []
    return httpx.Client(transport=httpx.HTTPTransport(socket_options=opts), timeout=300)


def _one_stream(client: httpx.Client, url: str, i: int, bias: dict[str, float], rec: list[dict]) -> None:
    body = {"model": SMOL, "messages": _chat(i), "max_tokens": SIZE.decode_tokens, "temperature": 0,
            "stream": True, "logit_bias": bias}
    t0 = time.perf_counter()
    times = []
    with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
        status = r.status_code
        for line in r.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                if (json.loads(line[6:])["choices"][0]["delta"] or {}).get("content"):
                    times.append(time.perf_counter())
    t_end = time.perf_counter()
    rec.append({"status": status, "t0": t0, "times": times, "t_end": t_end})


def _run_level(url: str, ids: list[int], concurrency: int, bias: dict[str, float], nodelay: bool) -> tuple[list, float]:
    """Requests ``ids`` through ``concurrency`` streaming workers; returns (records, wall seconds)."""
    rec: list[dict] = []
    pending = list(ids)
    lock = threading.Lock()

    def worker() -> None:
        with _client(nodelay) as client:
            while True:
                with lock:
                    if not pending:
                        return
                    j = pending.pop(0)
                _one_stream(client, url, j, bias, rec)

    t_level = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return rec, time.perf_counter() - t_level


def _level(url: str, ids: list[int], concurrency: int, bias: dict[str, float], nodelay: bool = True) -> dict:
    """Run requests ``ids`` with ``concurrency`` streaming workers; returns the level's statistics (ms, tokens/s).

    Tails are p99 from >= 100 samples, else the maximum (``*_tail_label`` says which).
    """
    import psutil

    cpu0 = psutil.Process().cpu_times()
    rec, wall = _run_level(url, ids, concurrency, bias, nodelay)
    cpu1 = psutil.Process().cpu_times()
    ok = [r for r in rec if r["status"] == 200 and len(r["times"]) > 1]
    ttft = [(r["times"][0] - r["t0"]) * 1000 for r in ok]
    itl = [(b - a) * 1000 for r in ok for a, b in zip(r["times"], r["times"][1:])]
    e2e = [(r["t_end"] - r["t0"]) * 1000 for r in ok]
    tpot = [(e - t) / (len(r["times"]) - 1) for r, e, t in zip(ok, e2e, ttft)]
    per_stream = [(len(r["times"]) - 1) / (r["times"][-1] - r["times"][0]) for r in ok]
    good = sum(1 for t, tp in zip(ttft, tpot) if t <= SLO_TTFT_MS and tp <= SLO_TPOT_MS)
    out = {
        "concurrency": concurrency, "requests": len(ids), "ok": len(ok), "wall_s": wall, "load_avg_1m": load_avg(),
        "client_cpu_pct": 100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall,
        "ttft_p50_ms": pct(ttft, 50), "itl_p50_ms": pct(itl, 50), "tpot_p50_ms": pct(tpot, 50),
        "e2e_p50_ms": pct(e2e, 50),
        "per_stream_tps": statistics.mean(per_stream) if per_stream else float("nan"),
        "per_stream_tps_median": statistics.median(per_stream) if per_stream else float("nan"),
        "aggregate_tps": sum(len(r["times"]) for r in ok) / wall,
        "goodput_rps": good / wall, "slo_met_pct": 100 * good / len(ok) if ok else 0.0,
    }
    for name, values in (("ttft", ttft), ("itl", itl), ("e2e", e2e)):
        t = tail(values)
        out[f"{name}_tail_ms"], out[f"{name}_tail_label"], out[f"{name}_samples"] = t["value"], t["label"], t["n"]
    return out


def paired(url: str, llama, ids: list[int], bias: dict[str, float]) -> dict[str, Any]:
    """Single-stream served vs in-process, interleaved: for each prompt id, the in-process run
    (``llama`` in this process), then the same prompt through the server at ``url``.

    Interleaving puts both under the same machine conditions (the machine is shared); the
    server process is idle while the in-process run decodes, and vice versa. Both sides see
    the same prompt sequence, so KV-cache prefix reuse is identical. Returns medians.
    """
    ip_runs, srv_runs = [], []
    stream_in_process(llama, SMOL, 0, 8)  # warm-up (the server had its own)
    with _client() as c:
        for i in ids:
            ip_runs.append(stream_in_process(llama, SMOL, i))
            rec: list[dict] = []
            _one_stream(c, url, i, bias, rec)
            t = rec[0]["times"]
            srv_runs.append({"ttft_ms": (t[0] - rec[0]["t0"]) * 1000, "tokens": len(t),
                             "decode_tps": (len(t) - 1) / (t[-1] - t[0])})
    med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    out = {"in_process_decode_tps": med(ip_runs, "decode_tps"), "served_decode_tps": med(srv_runs, "decode_tps"),
           "in_process_ttft_ms": med(ip_runs, "ttft_ms"), "served_ttft_ms": med(srv_runs, "ttft_ms"),
           "in_process_runs": ip_runs, "served_runs": srv_runs}
    out["decode_ratio"] = out["served_decode_tps"] / out["in_process_decode_tps"]
    out["ttft_overhead_ms"] = out["served_ttft_ms"] - out["in_process_ttft_ms"]
    return out


def _sweep(url: str, bias: dict[str, float]) -> list[dict]:
    """The concurrency sweep: ``num_prompts = 10 x concurrency`` per level, fresh prompt ids."""
    levels, next_id = [], 100
    for c in SIZE.concurrency:
        n_req = 10 * c
        levels.append(_level(url, list(range(next_id, next_id + n_req)), c, bias))
        next_id += n_req
    return levels


def served(paths: dict[str, Path], threads: int) -> dict[str, Any]:
    """Part 4: start the server; paired single-stream comparison, concurrency sweep, RSS."""
    import psutil
    from llama_cpp import Llama

    from .launcher import ServerProcess

    bias = eog_logit_bias(Llama(model_path=str(paths[SMOL]), vocab_only=True, verbose=False))
    ids = list(range(1, SIZE.paired_prompts + 1))
    queue = str(max(16, max(SIZE.concurrency)))
    srv = ServerProcess(LLAMACPP_N_THREADS=str(threads), LLAMACPP_MAX_QUEUE=queue,
                        LLAMACPP_MODEL_PATH=str(paths[SMOL]), LLAMACPP_EXTRA_MODEL_PATH=str(paths[GEMMA]))
    srv.start()
    try:
        with _client() as c:  # warm-up
            _one_stream(c, srv.url, 0, bias, [])
        llama = _llama(paths, SMOL, threads)
        pair = paired(srv.url, llama, ids, bias)
        llama.close()
        levels = _sweep(srv.url, bias)
        no_nodelay = _level(srv.url, ids, 1, bias, nodelay=False)
        rss_mb = psutil.Process(srv.proc.pid).memory_info().rss / 2**20
    finally:
        code = srv.stop()
    # One llama.cpp thread: a core stays free for the HTTP side (event loop, client).
    one = ServerProcess(LLAMACPP_N_THREADS="1", LLAMACPP_MODEL_PATH=str(paths[SMOL]),
                        LLAMACPP_EXTRA_MODEL_PATH="none")
    one.start()
    try:
        with _client() as c:
            _one_stream(c, one.url, 0, bias, [])
        llama = _llama(paths, SMOL, 1)
        pair_one = paired(one.url, llama, ids, bias)
        llama.close()
    finally:
        one.stop()
    return {"threads": threads, "paired": pair, "paired_one_thread": pair_one, "levels": levels,
            "single_stream_client_without_nodelay": no_nodelay, "server_rss_mb_both_models": rss_mb,
            "exit_code": code}


def plot(data: dict[str, Any], path: Path) -> None:
    """Three panels: threads sweep, tokens/s against concurrency, TTFT against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    rows = data["threads"]
    labels = [f"{r['threads']}t{' +busy' if r['busy_process'] else ''}{' 2 callers' if r['calling_threads'] > 1 else ''}"
              for r in rows if r["model"] == SMOL]
    for k, model in enumerate((SMOL, GEMMA)):
        vals = [r["decode_tps"] for r in rows if r["model"] == model]
        xs = [x + k * 0.4 for x in range(len(vals))]
        ax.bar(xs, vals, width=0.4, label=model)
    ax.set_xticks([x + 0.2 for x in range(len(labels))], labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("decode tokens/s (in-process)")
    ax.set_title("Threads (t), a busy extra process, 2 calling threads")
    ax.legend(fontsize=8)

    lv = data["served"]["levels"]
    cs = [x["concurrency"] for x in lv]
    ax = axes[1]
    ax.plot(cs, [x["aggregate_tps"] for x in lv], "o-", label="aggregate")
    ax.plot(cs, [x["per_stream_tps"] for x in lv], "s--", label="per stream (while generating)")
    ax.axhline(data["served"]["paired"]["in_process_decode_tps"], color="grey", ls=":", label="in-process decode")
    ax.set_ylim(bottom=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrent streams")
    ax.set_ylabel("tokens/s")
    ax.set_title(f"Served {SMOL}: throughput")
    ax.legend(fontsize=8)

    ax = axes[2]
    ax.plot(cs, [x["ttft_p50_ms"] for x in lv], "o-", label="TTFT p50")
    ax.plot(cs, [x["ttft_tail_ms"] for x in lv], "o--", label="TTFT tail (p99 from >= 100 samples, else max)")
    ax.plot(cs, [x["e2e_p50_ms"] for x in lv], "s-", label="e2e p50")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrent streams")
    ax.set_ylabel("ms")
    ax.set_title("Latency: requests queue (one sequence at a time)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def quoted(data: dict[str, Any]) -> dict[str, Any]:
    """Every number the README's "Measured results" prose quotes, rounded as it is written there
    (a repo test checks that each number on the page appears in results/*.json)."""
    srv, sweep, mem = data["served"], data["threads"], data["memory"]
    pr, pr1, nd = srv["paired"], srv["paired_one_thread"], srv["single_stream_client_without_nodelay"]
    r1 = lambda x: round(x, 1)  # noqa: E731
    smol = {(r["threads"], r["busy_process"], r["calling_threads"]): r1(r["decode_tps"])
            for r in sweep if r["model"] == SMOL}
    cores = os.cpu_count() or 1
    first, last = srv["levels"][0], srv["levels"][-1]
    return {
        "threads": srv["threads"], "n_ctx": N_CTX, "decode_tokens": SIZE.decode_tokens, "logical_cores": cores,
        "prompts_per_concurrency": 10, "min_samples_p99": MIN_SAMPLES_P99,
        "paired_prompts": SIZE.paired_prompts,
        "goal_decode_ratio_pct": GOAL_DECODE_RATIO_PCT, "goal_ttft_overhead_ms": GOAL_TTFT_OVERHEAD_MS,
        "decode_ratio_pct": r1(100 * pr["decode_ratio"]), "ttft_overhead_ms": r1(pr["ttft_overhead_ms"]),
        "decode_goal_met": 100 * pr["decode_ratio"] >= GOAL_DECODE_RATIO_PCT,
        "ttft_goal_met": pr["ttft_overhead_ms"] <= GOAL_TTFT_OVERHEAD_MS,
        "decode_ratio_pct_one_thread": r1(100 * pr1["decode_ratio"]),
        "ttft_overhead_ms_one_thread": r1(pr1["ttft_overhead_ms"]),
        "ttft_overhead_ms_without_nodelay": r1(nd["ttft_p50_ms"] - pr["in_process_ttft_ms"]),
        "smollm2_decode_tps_1_thread": smol.get((1, False, 1)), "smollm2_decode_tps_2_threads": smol.get((2, False, 1)),
        "smollm2_decode_tps_cores_plus_1": smol.get((cores + 1, False, 1)),
        "smollm2_decode_tps_2_threads_busy": smol.get((2, True, 1)),
        "smollm2_decode_tps_1_thread_busy": smol.get((1, True, 1)),
        "smollm2_decode_tps_2_callers": smol.get((2, False, 2)),
        "concurrency_first": first["concurrency"], "concurrency_last": last["concurrency"],
        "aggregate_tps_first": r1(first["aggregate_tps"]), "aggregate_tps_last": r1(last["aggregate_tps"]),
        "ttft_p50_ms_first": round(first["ttft_p50_ms"]), "ttft_p50_s_last": r1(last["ttft_p50_ms"] / 1000),
        "client_cpu_pct_last": round(last["client_cpu_pct"]),
        "slo_ttft_ms": SLO_TTFT_MS, "slo_tpot_ms": SLO_TPOT_MS,
        "slo_met_pct_first": round(first["slo_met_pct"]), "slo_met_pct_last": round(last["slo_met_pct"]),
        "server_rss_mb_both_models": round(srv["server_rss_mb_both_models"]),
        "smollm2_rss_mb": round(mem[SMOL]["rss_mb"]), "gemma_rss_mb": round(mem[GEMMA]["rss_mb"]),
    }


def _tables(data: dict[str, Any], threads: int) -> list[dict[str, Any]]:
    """The tables the page renders, from ``data``."""
    inproc, sweep, mem, srv = data["in_process"], data["threads"], data["memory"], data["served"]
    pr, pr1, nd = srv["paired"], srv["paired_one_thread"], srv["single_stream_client_without_nodelay"]
    n_tok = SIZE.decode_tokens
    r1 = lambda x: round(x, 1)  # noqa: E731
    tl = lambda x, k: f"{round(x[k + '_tail_ms'])} ({x[k + '_tail_label']}, n={x[k + '_samples']})"  # noqa: E731
    return [
        {"title": f"In-process llama-cpp-python ({threads} threads, n_ctx {N_CTX})",
         "columns": ["model", "prefill tokens/s", "decode tokens/s", "TTFT ms", "RSS MB (model share)", "file MB"],
         "rows": [[m, round(v["prefill_tps"]), r1(v["decode_tps"]), r1(v["ttft_ms"]), round(mem[m]["delta_mb"]),
                   round(mem[m]["file_mb"])] for m, v in inproc.items()],
         "note": f"Median of {SIZE.in_process_runs} streamed generations of {n_tok} tokens (EOS banned); prefill = "
                 "Llama.eval of 256 tokens. RSS share = process RSS after loading and one generation minus before. "
                 "Models loaded with the server's own loader and settings (models.load_model)."},
        {"title": "Decode tokens/s against threads (in-process)",
         "columns": ["model", "threads", "extra busy process", "calling OS threads", "decode tokens/s"],
         "rows": [[r["model"], r["threads"], "yes" if r["busy_process"] else "no", r["calling_threads"],
                   r1(r["decode_tps"])] for r in sweep],
         "note": f"{os.cpu_count()} logical cores. Extra busy process: one process spinning on a core during the "
                 "run (oversubscription). Calling OS threads 2: consecutive steps of the stream run on two "
                 f"different Python threads in turn, as with a thread pool. Median of {SIZE.thread_runs} run(s) of "
                 f"{SIZE.thread_tokens} tokens."},
        {"title": f"Served vs in-process, {SMOL}, one stream",
         "columns": ["metric", "in-process", "served (HTTP, SSE)", "served / in-process"],
         "rows": [[f"decode tokens/s, {threads} threads", r1(pr["in_process_decode_tps"]), r1(pr["served_decode_tps"]),
                   f"{pr['decode_ratio']:.1%}"],
                  [f"TTFT ms, {threads} threads", r1(pr["in_process_ttft_ms"]), r1(pr["served_ttft_ms"]),
                   f"{pr['ttft_overhead_ms']:+.1f} ms"],
                  [f"TTFT ms, {threads} threads, client without TCP_NODELAY", r1(pr["in_process_ttft_ms"]),
                   r1(nd["ttft_p50_ms"]), f"{nd['ttft_p50_ms'] - pr['in_process_ttft_ms']:+.1f} ms"],
                  ["decode tokens/s, 1 thread (a core left for HTTP)", r1(pr1["in_process_decode_tps"]),
                   r1(pr1["served_decode_tps"]), f"{pr1['decode_ratio']:.1%}"],
                  ["TTFT ms, 1 thread", r1(pr1["in_process_ttft_ms"]), r1(pr1["served_ttft_ms"]),
                   f"{pr1['ttft_overhead_ms']:+.1f} ms"]],
         "note": f"Medians over the same {SIZE.paired_prompts} prompts, {n_tok} tokens each, in-process and served "
                 "runs interleaved prompt by prompt. Client: httpx streaming with keep-alive and TCP_NODELAY, on the "
                 "same machine; 'without TCP_NODELAY' = httpx defaults (Nagle on), run separately."},
        {"title": f"Served {SMOL}, streaming, concurrency sweep ({threads} threads)",
         "columns": ["concurrency", "requests", "TTFT p50 ms", "TTFT tail ms", "ITL p50 ms", "ITL tail ms",
                     "TPOT p50 ms", "per-stream tokens/s", "aggregate tokens/s", "e2e p50 ms", "e2e tail ms",
                     f"goodput req/s (SLO met %)", "client CPU %"],
         "rows": [[x["concurrency"], x["requests"], round(x["ttft_p50_ms"]), tl(x, "ttft"), r1(x["itl_p50_ms"]),
                   tl(x, "itl"), r1(x["tpot_p50_ms"]), r1(x["per_stream_tps"]), r1(x["aggregate_tps"]),
                   round(x["e2e_p50_ms"]), tl(x, "e2e"), f"{x['goodput_rps']:.2f} ({round(x['slo_met_pct'])} %)",
                   round(x["client_cpu_pct"])] for x in srv["levels"]],
         "note": f"num_prompts = 10 x concurrency, {n_tok} tokens per request, EOS banned. Tail = p99 from >= "
                 f"{MIN_SAMPLES_P99} samples, else the maximum (label and sample count in the cell). TPOT = (e2e - "
                 f"TTFT) / (output tokens - 1). SLO: TTFT <= {SLO_TTFT_MS:g} ms and TPOT <= {SLO_TPOT_MS:g} ms; "
                 "goodput = requests meeting it per second. Client CPU % = the load generator's own CPU time / wall "
                 "time (100 % = one core). One sequence generates at a time; the others wait in the queue, so "
                 "TTFT and e2e grow with concurrency while aggregate tokens/s stays flat."},
        {"title": "Memory (RSS)",
         "columns": ["process", "RSS MB"],
         "rows": [[f"one process, {m} only", round(v["rss_mb"])] for m, v in mem.items()]
                 + [["server, both models loaded", round(srv["server_rss_mb_both_models"])]],
         "note": f"n_ctx {N_CTX}, logits_all off, CPU build."},
    ]


def _parse_args(argv: list[str] | None) -> Size:
    parser = argparse.ArgumentParser(prog="python -m llamacpp_server.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="short run (checks the bench, not for publishing)")
    parser.add_argument("--concurrency", help="comma-separated levels, e.g. 1,2,4,8")
    parser.add_argument("--decode-tokens", type=int, help="tokens per request")
    args = parser.parse_args(argv)
    size = SMOKE if args.smoke else FULL
    if args.concurrency:
        size = dataclasses.replace(size, concurrency=tuple(int(c) for c in args.concurrency.split(",")))
    if args.decode_tokens:
        size = dataclasses.replace(size, decode_tokens=args.decode_tokens)
    return size


#: Markers of the README block that :func:`update_readme` rewrites from the results.
PROSE_START, PROSE_END = "<!-- bench-prose:start", "<!-- bench-prose:end -->"
PROSE_TEMPLATE = Path(__file__).resolve().parent / "results_prose.md"


def render_prose(doc: dict) -> str:
    """The README's "Measured results" prose: ``results_prose.md`` with ``{key}`` filled from ``data.quoted``.

    Every number in it comes from ``doc`` (a results dict as written by :func:`main`); goal words ("met",
    "missed") are computed from the same numbers. Raises ``KeyError`` if the template names a missing key.
    """
    q = doc["data"]["quoted"]
    vals = {k: f"{v}" for k, v in q.items()}
    vals["decode_goal"] = "met" if q["decode_goal_met"] else "missed"
    vals["ttft_goal"] = "met" if q["ttft_goal_met"] else "missed"
    vals["ttft_overhead_ms_without_nodelay"] = f"{q['ttft_overhead_ms_without_nodelay']:+}"
    hw = doc["hardware"]
    vals["SMOKE"] = ("**The run committed now is a smoke run**: short settings (`make bench BENCH_ARGS=--smoke`: "
                     f"{q['decode_tokens']} tokens per request, {q['paired_prompts']} paired prompts, concurrency "
                     f"{q['concurrency_first']} to {q['concurrency_last']}) at 1-minute load "
                     f"{hw['load_avg_1m_at_start']} at the start and {hw['load_avg_1m_at_end']} at the end, on "
                     f"{hw['logical_cores']} cores; its figures are not for publishing. "
                     if doc["data"].get("smoke") else "")
    text = PROSE_TEMPLATE.read_text(encoding="utf-8")
    return re.sub(r"\{(\w+)\}", lambda m: vals[m.group(1)], text)


def update_readme(readme: Path, prose: str) -> bool:
    """Replace the block between ``PROSE_START`` ... ``PROSE_END`` of ``readme`` with ``prose``; False if no markers."""
    text = readme.read_text(encoding="utf-8")
    i, j = text.find(PROSE_START), text.find(PROSE_END)
    if i < 0 or j < 0:
        return False
    head = text[: text.index("\n", i) + 1]
    readme.write_text(head + prose.rstrip("\n") + "\n" + text[j:], encoding="utf-8")
    return True


def prose_block(readme_text: str) -> str:
    """The text between the prose markers of a README (empty if absent)."""
    i, j = readme_text.find(PROSE_START), readme_text.find(PROSE_END)
    return readme_text[readme_text.index("\n", i) + 1: j] if i >= 0 and j >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    """Run all parts under the machine-wide bench lock, write results/bench.json and results/bench.png."""
    global SIZE
    SIZE = _parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would cost client CPU
    with provenance.bench_lock() as load_start:
        return _bench(load_start)


def _bench(load_start: float) -> int:
    t_start = time.perf_counter()
    paths = {SMOL: smollm2_path(), GEMMA: gemma3_path()}
    threads = auto_threads()
    log.info("size %s; load %s; in-process at %d threads ...", SIZE, load_start, threads)
    inproc = in_process(paths, threads)
    log.info("threads sweep ...")
    sweep = threads_sweep(paths)
    log.info("memory ...")
    mem = memory(paths)
    log.info("served ...")
    srv = served(paths, threads)

    pr, pr1 = srv["paired"], srv["paired_one_thread"]
    data = {"in_process": inproc, "threads": sweep, "memory": mem, "served": srv,
            "served_vs_in_process": {"decode_ratio": pr["decode_ratio"], "ttft_overhead_ms": pr["ttft_overhead_ms"],
                                     "decode_ratio_one_thread": pr1["decode_ratio"],
                                     "ttft_overhead_ms_one_thread": pr1["ttft_overhead_ms"]},
            "size": dataclasses.asdict(SIZE), "smoke": SIZE != FULL,
            "decode_tokens": SIZE.decode_tokens, "n_ctx": N_CTX, "duration_s": time.perf_counter() - t_start}
    data["quoted"] = quoted(data)
    results = RECIPE / "results"
    results.mkdir(exist_ok=True)
    plot(data, results / "bench.png")
    q = data["quoted"]
    summary = (f"{SMOL}: {pr['in_process_decode_tps']:.0f} tok/s decode in-process, served {q['decode_ratio_pct']} % "
               f"of it, TTFT overhead {q['ttft_overhead_ms']:+.1f} ms; {q['aggregate_tps_last']} tok/s aggregate at "
               f"concurrency {q['concurrency_last']}" + (" (smoke run: short settings)" if data["smoke"] else ""))
    doc = provenance.stamp(
        RECIPE,
        title="llama.cpp server: in-process vs served, threads, concurrency, memory",
        model={"name": "SmolLM2-135M-Instruct Q4_1 (+ Gemma-3-270M Q4_K_M)", "file": paths[SMOL].name,
               "sha256": provenance.sha256_file(paths[SMOL]), "bytes": paths[SMOL].stat().st_size,
               "others": [{"name": "Gemma-3-270M Q4_K_M (base)", "file": paths[GEMMA].name,
                           "sha256": provenance.sha256_file(paths[GEMMA]), "bytes": paths[GEMMA].stat().st_size}]},
        conditions=(f"CPU build, {threads} threads (auto), n_ctx {N_CTX}, {SIZE.decode_tokens} tokens per request "
                    f"with EOS banned, temperature 0; num_prompts = 10 x concurrency {list(SIZE.concurrency)}; client "
                    f"and server on the same {os.cpu_count()}-core machine; 1-min load {load_start} at start; "
                    f"duration {data['duration_s']:.0f} s" + ("; SMOKE RUN (short settings)" if data["smoke"] else "")),
        summary=summary, tables=_tables(data, threads), plots=["bench.png"], data=data)
    (results / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    if update_readme(RECIPE / "README.md", render_prose(doc)):
        log.info("rewrote the README's prose block from the results")
    log.info("%s", summary)
    log.info("wrote %s in %.0f s", results / "bench.json", data["duration_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
