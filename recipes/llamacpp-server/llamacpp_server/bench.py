"""``make bench``: in-process llama-cpp-python vs the served endpoint, in one run.

Writes ``results/bench.json`` (shape: see ``provenance.py``) and ``results/bench.png``.

Measured, in order (nothing else of the recipe runs during a part; the machine may be shared
with other work, so the 1-min load average is recorded along with each part):

1. In-process, per model, at the default thread count: prefill tokens/s (``Llama.eval`` of a
   ~256-token prompt, median of 3), decode tokens/s and TTFT (streamed
   ``create_chat_completion`` / ``create_completion``, EOS banned so every run makes
   ``DECODE_TOKENS`` tokens, median of 7).
2. Threads: SmolLM2 and Gemma decode tokens/s at 1, 2, and cores+1 threads on a quiet box,
   at 1 and 2 threads while one extra process burns a core (oversubscription), and at 2 threads
   with the stream's steps alternating between 2 calling OS threads.
3. Memory: RSS of a fresh process holding one model (n_ctx 2048), minus the RSS of the
   same process before loading, per model.
4. Served: ``python -m llamacpp_server`` (both models, default settings). First single-stream
   served vs in-process, interleaved prompt by prompt (``paired``) at the default threads and
   again on a 1-thread server; then httpx streaming clients at concurrency 1, 2, 4, 8
   (SmolLM2 chat, ``DECODE_TOKENS`` per request): TTFT p50/p99, ITL p50/p99, per-stream and
   aggregate tokens/s, end-to-end p50/p99 (p99 over a handful of requests is close to the
   max); then single-stream TTFT with httpx's default client (Nagle on).

Definitions: TTFT = request sent -> first generated token received. ITL = gap between
consecutive tokens of one stream. Decode tokens/s (one stream) = (tokens - 1) / (last - first
token time). Aggregate tokens/s = all tokens of a concurrency level / its wall time.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx

from . import provenance
from .models import eog_logit_bias, extra_buffer_types, gemma3_path, smollm2_path
from .settings import Settings, auto_threads

RECIPE = Path(__file__).resolve().parents[1]
SMOL, GEMMA = "smollm2-135m-instruct", "gemma3-270m"
DECODE_TOKENS = 64
CONCURRENCY = (1, 2, 4, 8)
#: Prompt ids of the interleaved served/in-process comparison: same prompts, same token counts,
#: same KV-cache prefix reuse on both sides (each prompt shares "Request " with the previous one).
PAIRED_IDS = tuple(range(1, 11))
N_CTX = 2048


def pct(values: List[float], p: float) -> float:
    """Percentile ``p`` (0-100) with linear interpolation (numpy's default method)."""
    import numpy as np

    return float(np.percentile(values, p)) if values else float("nan")


def load_avg() -> float:
    """1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _llama(path: Path, threads: int):
    from llama_cpp import Llama

    with extra_buffer_types(Settings().use_extra_buffer_types()):
        return Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                     logits_all=False, verbose=False)


def _chat(i: int) -> List[dict]:
    # A distinct first token per request: the library reuses the KV cache of a common prompt
    # prefix, so repeating one prompt would hide the prefill cost.
    return [{"role": "user", "content": f"Request {i}: write a long story about a lighthouse keeper."}]


def _prompt(i: int) -> str:
    return f"Story {i}. The lighthouse keeper climbed the stairs and"


def stream_in_process(llama, model: str, i: int, max_tokens: int = DECODE_TOKENS, callers: int = 1) -> Dict[str, float]:
    """One streamed generation in-process; returns ttft_ms, decode tok/s, tokens.

    ``callers`` > 1: consecutive steps of the stream run on ``callers`` different OS threads in
    turn, as they can when a server hands each step to a thread pool (see ``engine.py``).
    """
    from concurrent.futures import ThreadPoolExecutor

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


def in_process(paths: Dict[str, Path], threads: int) -> Dict[str, Any]:
    """Part 1: prefill/decode tokens/s and TTFT per model at ``threads`` threads.
    """
    out: Dict[str, Any] = {}
    for model, path, n_threads in [(m, p, threads) for m, p in paths.items()]:
        key = model if n_threads == threads else f"{model}@{n_threads}"
        if key in out:
            continue
        llama = _llama(path, n_threads)
        stream_in_process(llama, model, 0, 8)  # warm-up
        runs = [stream_in_process(llama, model, i) for i in range(1, 8)]
        out[key] = {"threads": n_threads, "load_avg_1m": load_avg(),
                      "prefill_tps": prefill_tps(llama),
                      "decode_tps": statistics.median(r["decode_tps"] for r in runs),
                      "ttft_ms": statistics.median(r["ttft_ms"] for r in runs), "runs": runs}
        llama.close()
    return out


def threads_sweep(paths: Dict[str, Path]) -> List[Dict[str, Any]]:
    """Part 2: decode tokens/s against threads, quiet and with one busy extra process; and with
    the steps of one stream alternating between 2 calling OS threads (what ``engine.py`` prevents)."""
    cores = os.cpu_count() or 1
    configs = [(t, False, 1) for t in sorted({1, 2, cores + 1})] + [(1, True, 1), (2, True, 1), (2, False, 2)]
    rows = []
    for model, path in paths.items():
        for threads, busy, callers in configs:
            burner = None
            if busy:
                burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(1.0)
            try:
                llama = _llama(path, threads)
                stream_in_process(llama, model, 0, 4)
                rates = [stream_in_process(llama, model, i + 1, 48, callers)["decode_tps"] for i in range(2)]
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
from llama_cpp import Llama
from llamacpp_server.models import extra_buffer_types
from llamacpp_server.settings import Settings
p = psutil.Process()
base = p.memory_info().rss
with extra_buffer_types(Settings().use_extra_buffer_types()):
    llm = Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[2]), logits_all=False, verbose=False)
llm.create_completion("Hello", max_tokens=8, temperature=0)
print(json.dumps({"rss_mb": p.memory_info().rss / 2**20, "delta_mb": (p.memory_info().rss - base) / 2**20}))
"""


def memory(paths: Dict[str, Path]) -> Dict[str, Any]:
    """Part 3: RSS (MB) of one process per model, and the model's share (RSS after - before load)."""
    out = {}
    for model, path in paths.items():
        res = subprocess.run([sys.executable, "-c", _RSS_SNIPPET, str(path), str(N_CTX)], capture_output=True,
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


def _one_stream(client: httpx.Client, url: str, i: int, bias: Dict[str, float], rec: List[dict]) -> None:
    body = {"model": SMOL, "messages": _chat(i), "max_tokens": DECODE_TOKENS, "temperature": 0, "stream": True,
            "logit_bias": bias}
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


def _level(url: str, ids: List[int], concurrency: int, bias: Dict[str, float], nodelay: bool = True) -> dict:
    """Run requests ``ids`` with ``concurrency`` streaming workers; returns the level's statistics."""
    rec: List[dict] = []
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
    wall = time.perf_counter() - t_level
    ok = [r for r in rec if r["status"] == 200 and len(r["times"]) > 1]
    ttft = [(r["times"][0] - r["t0"]) * 1000 for r in ok]
    itl = [(b - a) * 1000 for r in ok for a, b in zip(r["times"], r["times"][1:])]
    per_stream = [(len(r["times"]) - 1) / (r["times"][-1] - r["times"][0]) for r in ok]
    e2e = [(r["t_end"] - r["t0"]) * 1000 for r in ok]
    return {
        "concurrency": concurrency, "requests": len(ids), "ok": len(ok), "wall_s": wall, "load_avg_1m": load_avg(),
        "ttft_p50_ms": pct(ttft, 50), "ttft_p99_ms": pct(ttft, 99),
        "itl_p50_ms": pct(itl, 50), "itl_p99_ms": pct(itl, 99),
        "per_stream_tps": statistics.mean(per_stream) if per_stream else float("nan"),
        "per_stream_tps_median": statistics.median(per_stream) if per_stream else float("nan"),
        "aggregate_tps": sum(len(r["times"]) for r in ok) / wall,
        "e2e_p50_ms": pct(e2e, 50), "e2e_p99_ms": pct(e2e, 99),
    }


def paired(url: str, llama, ids: List[int], bias: Dict[str, float]) -> Dict[str, Any]:
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
            rec: List[dict] = []
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


def served(paths: Dict[str, Path], threads: int) -> Dict[str, Any]:
    """Part 4: start the server; paired single-stream comparison, concurrency sweep, RSS."""
    import psutil
    from llama_cpp import Llama

    from .launcher import ServerProcess

    bias = eog_logit_bias(Llama(model_path=str(paths[SMOL]), vocab_only=True, verbose=False))
    srv = ServerProcess(LLAMACPP_N_THREADS=str(threads), LLAMACPP_MAX_QUEUE="16",
                        LLAMACPP_MODEL_PATH=str(paths[SMOL]), LLAMACPP_EXTRA_MODEL_PATH=str(paths[GEMMA]))
    srv.start()
    try:
        with _client() as c:  # warm-up
            _one_stream(c, srv.url, 0, bias, [])
        llama = _llama(paths[SMOL], threads)
        pair = paired(srv.url, llama, list(PAIRED_IDS), bias)
        llama.close()
        levels = []
        next_id = 100
        for c in CONCURRENCY:
            n_req = max(5, 2 * c)
            levels.append(_level(srv.url, list(range(next_id, next_id + n_req)), c, bias))
            next_id += n_req
        no_nodelay = _level(srv.url, list(PAIRED_IDS), 1, bias, nodelay=False)
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
        llama = _llama(paths[SMOL], 1)
        pair_one = paired(one.url, llama, list(PAIRED_IDS), bias)
        llama.close()
    finally:
        one.stop()
    return {"threads": threads, "paired": pair, "paired_one_thread": pair_one, "levels": levels,
            "single_stream_client_without_nodelay": no_nodelay, "server_rss_mb_both_models": rss_mb,
            "exit_code": code}


def plot(data: Dict[str, Any], path: Path) -> None:
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
    ax.plot(cs, [x["ttft_p99_ms"] for x in lv], "o--", label="TTFT p99")
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


def main() -> int:
    """Run all parts, write results/bench.json and results/bench.png."""
    t_start = time.perf_counter()
    paths = {SMOL: smollm2_path(), GEMMA: gemma3_path()}
    threads = auto_threads()
    load_start = load_avg()
    print(f"load {load_start}; in-process at {threads} threads ...", flush=True)
    inproc = in_process(paths, threads)
    print("threads sweep ...", flush=True)
    sweep = threads_sweep(paths)
    print("memory ...", flush=True)
    mem = memory(paths)
    print("served ...", flush=True)
    srv = served(paths, threads)

    pr, pr1, nd = srv["paired"], srv["paired_one_thread"], srv["single_stream_client_without_nodelay"]
    ratio, ttft_overhead = pr["decode_ratio"], pr["ttft_overhead_ms"]
    data = {"in_process": inproc, "threads": sweep, "memory": mem, "served": srv,
            "served_vs_in_process": {"decode_ratio": ratio, "ttft_overhead_ms": ttft_overhead,
                                     "decode_ratio_one_thread": pr1["decode_ratio"],
                                     "ttft_overhead_ms_one_thread": pr1["ttft_overhead_ms"]},
            "decode_tokens": DECODE_TOKENS, "n_ctx": N_CTX, "duration_s": time.perf_counter() - t_start}
    results = RECIPE / "results"
    results.mkdir(exist_ok=True)
    plot(data, results / "bench.png")

    r1 = lambda x: round(x, 1)  # noqa: E731
    tables = [
        {"title": f"In-process llama-cpp-python ({threads} threads, n_ctx {N_CTX})",
         "columns": ["model", "prefill tokens/s", "decode tokens/s", "TTFT ms", "RSS MB (model share)", "file MB"],
         "rows": [[m, round(v["prefill_tps"]), r1(v["decode_tps"]), r1(v["ttft_ms"]), round(mem[m]["delta_mb"]),
                   round(mem[m]["file_mb"])] for m, v in inproc.items() if m in paths],
         "note": f"Median of 7 streamed generations of {DECODE_TOKENS} tokens (EOS banned); prefill = Llama.eval "
                 "of 256 tokens. RSS share = process RSS after loading and one generation minus before."},
        {"title": "Decode tokens/s against threads (in-process)",
         "columns": ["model", "threads", "extra busy process", "calling OS threads", "decode tokens/s"],
         "rows": [[r["model"], r["threads"], "yes" if r["busy_process"] else "no", r["calling_threads"],
                   r1(r["decode_tps"])] for r in sweep],
         "note": f"{os.cpu_count()} logical cores. Extra busy process: one process spinning on a core during the "
                 "run (oversubscription). Calling OS threads 2: consecutive steps of the stream run on two "
                 "different Python threads in turn, as with a thread pool. Median of 2 runs of 48 tokens."},
        {"title": f"Served vs in-process, {SMOL}, one stream",
         "columns": ["metric", "in-process", "served (HTTP, SSE)", "served / in-process"],
         "rows": [[f"decode tokens/s, {threads} threads", r1(pr["in_process_decode_tps"]), r1(pr["served_decode_tps"]),
                   f"{ratio:.1%}"],
                  [f"TTFT ms, {threads} threads", r1(pr["in_process_ttft_ms"]), r1(pr["served_ttft_ms"]),
                   f"{ttft_overhead:+.1f} ms"],
                  [f"TTFT ms, {threads} threads, client without TCP_NODELAY", r1(pr["in_process_ttft_ms"]),
                   r1(nd["ttft_p50_ms"]), f"{nd['ttft_p50_ms'] - pr['in_process_ttft_ms']:+.1f} ms"],
                  ["decode tokens/s, 1 thread (a core left for HTTP)", r1(pr1["in_process_decode_tps"]),
                   r1(pr1["served_decode_tps"]), f"{pr1['decode_ratio']:.1%}"],
                  ["TTFT ms, 1 thread", r1(pr1["in_process_ttft_ms"]), r1(pr1["served_ttft_ms"]),
                   f"{pr1['ttft_overhead_ms']:+.1f} ms"]],
         "note": f"Medians over the same {len(PAIRED_IDS)} prompts, {DECODE_TOKENS} tokens each, in-process and served "
                 "runs interleaved prompt by prompt. Client: httpx streaming with keep-alive and TCP_NODELAY, on the "
                 "same machine; 'without TCP_NODELAY' = httpx defaults (Nagle on), run separately."},
        {"title": f"Served {SMOL}, streaming, concurrency sweep ({threads} threads)",
         "columns": ["concurrency", "requests", "TTFT p50 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p99 ms",
                     "per-stream tokens/s", "aggregate tokens/s", "e2e p50 ms", "e2e p99 ms"],
         "rows": [[x["concurrency"], x["requests"], round(x["ttft_p50_ms"]), round(x["ttft_p99_ms"]),
                   r1(x["itl_p50_ms"]), r1(x["itl_p99_ms"]), r1(x["per_stream_tps"]), r1(x["aggregate_tps"]),
                   round(x["e2e_p50_ms"]), round(x["e2e_p99_ms"])] for x in srv["levels"]],
         "note": f"{DECODE_TOKENS} tokens per request, EOS banned. One sequence generates at a time; the others "
                 "wait in the queue, so TTFT and e2e grow with concurrency while aggregate tokens/s stays flat."},
        {"title": "Memory (RSS)",
         "columns": ["process", "RSS MB"],
         "rows": [[f"one process, {m} only", round(v["rss_mb"])] for m, v in mem.items()]
                 + [["server, both models loaded", round(srv["server_rss_mb_both_models"])]],
         "note": f"n_ctx {N_CTX}, logits_all off, CPU build."},
    ]
    summary = (f"{SMOL}: {pr['in_process_decode_tps']:.0f} tok/s decode in-process, served {ratio:.0%} of it, "
               f"TTFT overhead {ttft_overhead:+.1f} ms; {srv['levels'][-1]['aggregate_tps']:.0f} tok/s "
               f"aggregate at concurrency {CONCURRENCY[-1]}")
    doc = provenance.stamp(
        RECIPE,
        title="llama.cpp server: in-process vs served, threads, concurrency, memory",
        model={"name": "SmolLM2-135M-Instruct Q4_1 (+ Gemma-3-270M Q4_K_M)", "file": paths[SMOL].name,
               "sha256": provenance.sha256_file(paths[SMOL]), "bytes": paths[SMOL].stat().st_size,
               "others": [{"name": "Gemma-3-270M Q4_K_M (base)", "file": paths[GEMMA].name,
                           "sha256": provenance.sha256_file(paths[GEMMA]), "bytes": paths[GEMMA].stat().st_size}]},
        conditions=(f"CPU build, {threads} threads (auto), n_ctx {N_CTX}, {DECODE_TOKENS} tokens per request with "
                    f"EOS banned, temperature 0; client and server on the same {os.cpu_count()}-core machine; "
                    f"1-min load {load_start} at start; duration {data['duration_s']:.0f} s"),
        summary=summary, tables=tables, plots=["bench.png"], data=data)
    doc["hardware"]["load_avg_1m_at_start"] = load_start
    (results / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(summary)
    print(f"wrote {results / 'bench.json'} in {data['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
