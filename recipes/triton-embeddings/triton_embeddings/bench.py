"""``make bench``: Triton with dynamic batching on vs off, and the onnx-embeddings FastAPI service, same run.

    python -m triton_embeddings.bench                          # levels 1,8,32; full run (≤ 10 min on 2 cores)
    python -m triton_embeddings.bench --levels 1,8 --max-seconds 5   # a short run

Three services, one at a time on the same machine, each driven by a closed-loop load generator in this process
(asyncio; one sentence per request; ``concurrency`` workers):

1. Triton, ensemble ``minilm`` (fp32), dynamic batching on (the recipe's defaults), via ``tritonclient.http.aio``;
2. the same with dynamic batching off (``TRITON_EMB_DYNAMIC_BATCHING=false``: every request runs alone);
3. the onnx-embeddings recipe's FastAPI service (fp32 ONNX Runtime, its own micro-batching), started from ITS
   OWN venv by its own ``make -C ../onnx-embeddings serve`` with ``ONNX_EMB_PORT`` set, driven with aiohttp
   (the transport tritonclient.http.aio uses too). Skipped, and said so in the results, when that recipe or
   its venv is absent.

Per level: ``max(--min-requests, 10 × concurrency)`` measured requests after ``--warmup`` s, capped at
``--max-seconds``; p50/p90/p99 latency (p99 only when ≥ 100 samples, else the max is reported and labelled),
throughput, errors, the client's and the server's CPU share (psutil, process tree, CPU-seconds per wall-second)
and, for Triton, the batch-size histogram of ``minilm_encoder`` from Triton's statistics API
(``batch_stats``: executions per batch size, in sentences). Writes ``results/bench.json`` (provenance-stamped)
and ``results/bench.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil

from . import provenance
from .launcher import Server, free_port
from .settings import RECIPE_DIR, Settings

log = logging.getLogger("triton_embeddings.bench")

SENTENCES = [
    "A man is playing a guitar.", "The new movie is awesome and I loved every minute of it.",
    "How do I bake sourdough bread at home?", "The stock market fell sharply on Monday.",
    "A cat sits on the mat.", "Where is the nearest train station?",
    "Quantum computing uses qubits to represent superpositions of states.",
    "Please reset my password, I can no longer log in.", "The quarterly report is due next Friday.",
    "Two dogs are running through a snowy field.", "What is the capital of Australia?",
    "Our flight was delayed by three hours because of fog.", "She finished the marathon in under four hours.",
    "The recipe calls for two cups of flour and one egg.", "Can you recommend a good book about history?",
    "The server returned an error when I uploaded the file.",
]
"""The onnx-embeddings bench's sentences (8–16 tokens), so both recipes measure the same inputs."""

PEER_DIR = RECIPE_DIR.parent / "onnx-embeddings"


def _pcts(lat_s: list[float]) -> dict:
    a = np.asarray(lat_s) * 1e3
    out = {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90))}
    if len(a) >= 100:
        out["p99_ms"] = float(np.percentile(a, 99))
    else:
        out["p99_ms"] = None
        out["max_ms"] = float(a.max())
    return out


def _tree_cpu_s(pid: int) -> float:
    """user + system CPU seconds of a process and all its descendants (Triton's Python stubs are children)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def _closed_loop(send, concurrency: int, n: int, warmup_s: float, max_s: float) -> dict:
    """Run ``send(sentence) -> bool`` from ``concurrency`` workers: warm-up, then ``n`` measured requests."""
    lat: list[float] = []
    errors = 0

    async def worker(i: int, stop_at: float, record: bool, budget: list[int]) -> None:
        nonlocal errors
        k = i
        while time.perf_counter() < stop_at and (not record or budget[0] > 0):
            if record:
                budget[0] -= 1
            t0 = time.perf_counter()
            ok = await send(SENTENCES[k % len(SENTENCES)])
            dt = time.perf_counter() - t0
            k += concurrency
            if record:
                if ok:
                    lat.append(dt)
                else:
                    errors += 1

    warm_end = time.perf_counter() + warmup_s
    await asyncio.gather(*(worker(i, warm_end, False, [0]) for i in range(concurrency)))
    me = psutil.Process()
    c0, t0 = sum(me.cpu_times()[:2]), time.perf_counter()
    budget = [n]
    await asyncio.gather(*(worker(i, t0 + max_s, True, budget) for i in range(concurrency)))
    wall = time.perf_counter() - t0
    client_cpu = sum(me.cpu_times()[:2]) - c0
    return {"concurrency": concurrency, "requests": len(lat), "errors": errors, "wall_s": wall,
            "requests_per_s": len(lat) / wall, **(_pcts(lat) if lat else {}),
            "client_cpu_share": client_cpu / wall}


def _hist_delta(before: list[dict], after: list[dict]) -> dict[int, int]:
    b = {int(s["batch_size"]): int(s["compute_infer"]["count"]) for s in before}
    out = {}
    for s in after:
        size, count = int(s["batch_size"]), int(s["compute_infer"]["count"])
        if count - b.get(size, 0) > 0:
            out[size] = count - b.get(size, 0)
    return dict(sorted(out.items()))


def bench_triton(name: str, label: str, env: dict[str, str], levels: list[int],
                 a: argparse.Namespace) -> list[dict]:
    """Start Triton with ``env``, measure each level; returns one row per level (``service`` = ``name``)."""
    import httpx
    import tritonclient.http.aio as aioclient

    rows = []
    with Server(env={"TRITON_EMB_LOAD_MODELS": "minilm", "TRITON_EMB_LOG_LEVEL": "warning", **env},
                log_path=RECIPE_DIR / "build" / f"bench-{label}.log") as srv:
        def stats() -> dict:
            return httpx.get(f"{srv.url}/v2/models/minilm_encoder/stats", timeout=10).json()["model_stats"][0]

        for c in levels:
            async def run(c=c) -> dict:
                client = aioclient.InferenceServerClient(srv.host_port, conn_limit=c)

                async def send(sentence: str) -> bool:
                    inp = aioclient.InferInput("TEXT", [1, 1], "BYTES")
                    inp.set_data_from_numpy(np.array([[sentence]], dtype=object))
                    try:
                        r = await client.infer("minilm", [inp])
                        return r.as_numpy("EMBEDDING").shape == (1, 384)
                    except Exception:  # counted as an error, the loop goes on
                        return False

                try:
                    return await _closed_loop(send, c, max(a.min_requests, 10 * c), a.warmup, a.max_seconds)
                finally:
                    await client.close()

            s0, cpu0, t0 = stats(), _tree_cpu_s(srv.proc.pid), time.perf_counter()
            row = asyncio.run(run())
            cpu1, t1, s1 = _tree_cpu_s(srv.proc.pid), time.perf_counter(), stats()
            row["server_cpu_share"] = (cpu1 - cpu0) / (t1 - t0)  # includes the warm-up seconds
            row["batch_histogram"] = _hist_delta(s0.get("batch_stats", []), s1.get("batch_stats", []))
            n_exec = s1["execution_count"] - s0["execution_count"]
            row["mean_batch"] = (s1["inference_count"] - s0["inference_count"]) / n_exec if n_exec else None
            row["service"] = name
            rows.append(row)
            log.info("%s c=%d: %.0f req/s, p50 %.1f ms, mean batch %s, client CPU %.0f%%", label, c,
                     row["requests_per_s"], row.get("p50_ms", float("nan")), row["mean_batch"],
                     100 * row["client_cpu_share"])
    return rows


def bench_peer(levels: list[int], a: argparse.Namespace) -> tuple[list[dict], str]:
    """The onnx-embeddings FastAPI service from its own venv via ``make serve``; ([], reason) when absent."""
    import aiohttp
    import httpx

    if not (PEER_DIR / "Makefile").is_file():
        return [], f"skipped: {PEER_DIR.name} recipe not found next to this one"
    if not (PEER_DIR / ".venv" / "bin" / "python").exists():
        return [], f"skipped: {PEER_DIR.name} has no venv (run `make -C ../{PEER_DIR.name} venv`)"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRITON_EMB_", "VIRTUAL_ENV"))}
    env.update({"ONNX_EMB_PORT": str(port), "ONNX_EMB_HOST": "127.0.0.1", "ONNX_EMB_LOG_LEVEL": "warning",
                "ONNX_EMB_MAX_QUEUE": "1024"})
    log_path = RECIPE_DIR / "build" / "bench-onnx-embeddings.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as fh:
        proc = subprocess.Popen(["make", "-C", str(PEER_DIR), "serve"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                return [], f"skipped: `make -C ../{PEER_DIR.name} serve` exited {proc.returncode} (see {log_path})"
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return [], "skipped: onnx-embeddings not ready within 180 s"
            time.sleep(0.3)
        for c in levels:
            async def run(c=c) -> dict:
                conn = aiohttp.TCPConnector(limit=c)
                async with aiohttp.ClientSession(url, connector=conn,
                                                 timeout=aiohttp.ClientTimeout(total=60)) as session:
                    async def send(sentence: str) -> bool:
                        try:
                            async with session.post("/v1/embeddings", json={"input": sentence}) as r:
                                await r.read()
                                return r.status == 200
                        except aiohttp.ClientError:
                            return False

                    return await _closed_loop(send, c, max(a.min_requests, 10 * c), a.warmup, a.max_seconds)

            cpu0, t0 = _tree_cpu_s(proc.pid), time.perf_counter()
            row = asyncio.run(run())
            row["server_cpu_share"] = (_tree_cpu_s(proc.pid) - cpu0) / (time.perf_counter() - t0)
            row["service"] = "onnx-embeddings (FastAPI)"
            rows.append(row)
            log.info("onnx-embeddings c=%d: %.0f req/s, p50 %.1f ms", c, row["requests_per_s"],
                     row.get("p50_ms", float("nan")))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
    return rows, "measured"


def plot(path: Path, by_service: dict[str, list[dict]], levels: list[int]) -> None:
    """Three panels: throughput, p50/p99 latency vs concurrency, batch-size histogram at the top level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    x = np.arange(len(levels))
    w = 0.8 / max(len(by_service), 1)
    for k, (name, rows) in enumerate(by_service.items()):
        color = f"C{k}"
        ax1.bar(x + (k - (len(by_service) - 1) / 2) * w, [r["requests_per_s"] for r in rows], w, label=name,
                color=color)
        ax2.plot(levels, [r["p50_ms"] for r in rows], "o-", color=color, label=f"{name} p50")
        ax2.plot(levels, [r["p99_ms"] if r["p99_ms"] is not None else r["max_ms"] for r in rows], "s--",
                 color=color, label=f"{name} p99 (max if < 100 samples)")
    ax1.set_xticks(x, [str(v) for v in levels])
    ax1.set_xlabel("concurrent single-sentence requests")
    ax1.set_ylabel("requests (sentences) per second")
    ax1.set_title("Throughput")
    ax1.legend(fontsize=7)
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(levels, [str(v) for v in levels])
    ax2.set_xlabel("concurrency")
    ax2.set_ylabel("latency (ms)")
    ax2.set_title("Latency")
    ax2.legend(fontsize=6)
    top = by_service.get("triton, dynamic batching on", [])
    if top:
        hist = top[-1]["batch_histogram"]
        ax3.bar([int(b) for b in hist], list(hist.values()))
        ax3.set_xlabel("batch size formed by Triton (sentences)")
        ax3.set_ylabel("executions of minilm_encoder")
        ax3.set_title(f"Batch sizes at concurrency {levels[-1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """CLI; see the module docstring."""
    ap = argparse.ArgumentParser(description="Triton dynamic batching on/off vs the onnx-embeddings service")
    ap.add_argument("--levels", default="1,8,32", help="comma-separated concurrencies (%(default)s)")
    ap.add_argument("--min-requests", type=int, default=100, help="measured requests per level at least; "
                    "the count is max(this, 10 x concurrency) (%(default)s)")
    ap.add_argument("--max-seconds", type=float, default=40.0, help="cap per level (%(default)s s)")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per level (%(default)s)")
    ap.add_argument("--no-peer", action="store_true", help="skip the onnx-embeddings service")
    ap.add_argument("--out", type=Path, default=RECIPE_DIR / "results")
    ap.add_argument("--replot", action="store_true", help="only redraw bench.png from the existing bench.json")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if a.replot:
        data = json.loads((a.out / "bench.json").read_text())["data"]
        plot(a.out / "bench.png", data["services"], data["levels"])
        return
    levels = [int(v) for v in a.levels.split(",")]
    s = Settings()
    a.out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    by_service = {
        "triton, dynamic batching on": bench_triton("triton, dynamic batching on", "triton-batching-on", {},
                                                    levels, a),
        "triton, dynamic batching off": bench_triton("triton, dynamic batching off", "triton-batching-off",
                                                     {"TRITON_EMB_DYNAMIC_BATCHING": "false"}, levels, a),
    }
    peer_status = "skipped: --no-peer"
    if not a.no_peer:
        peer_rows, peer_status = bench_peer(levels, a)
        if peer_rows:
            by_service["onnx-embeddings (FastAPI)"] = peer_rows
    on, off = by_service["triton, dynamic batching on"], by_service["triton, dynamic batching off"]
    peer = by_service.get("onnx-embeddings (FastAPI)")
    ratios = {str(c): {"on_over_off": on[i]["requests_per_s"] / off[i]["requests_per_s"],
                       "triton_on_over_fastapi": (on[i]["requests_per_s"] / peer[i]["requests_per_s"]
                                                  if peer else None)}
              for i, c in enumerate(levels)}

    def p99(r: dict) -> str:
        return f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else f"max {r['max_ms']:.1f}"

    tables = [
        {"title": "Closed loop, one sentence per request (fp32 all-MiniLM-L6-v2)",
         "columns": ["service", "concurrency", "requests", "requests/s", "p50 ms", "p90 ms", "p99 ms",
                     "errors", "mean batch", "server CPU share", "client CPU share"],
         "rows": [[r["service"], r["concurrency"], r["requests"], round(r["requests_per_s"], 1),
                   round(r["p50_ms"], 1), round(r["p90_ms"], 1), p99(r), r["errors"],
                   round(r["mean_batch"], 2) if r.get("mean_batch") else "n/a",
                   f"{r['server_cpu_share']:.2f}", f"{r['client_cpu_share']:.2f}"]
                  for rows in by_service.values() for r in rows],
         "note": "CPU share = CPU-seconds per wall-second of the process tree (2.00 = both cores); client = "
                 "this bench's load generator; p99 only from >= 100 samples; mean batch = sentences per "
                 "execution of minilm_encoder (Triton statistics)"},
        {"title": "Ratios between services at the same concurrency (requests/s)",
         "columns": ["concurrency", "Triton batching on / off", "Triton (on) / onnx-embeddings FastAPI"],
         "rows": [[c, f"{v['on_over_off']:.2f}",
                   f"{v['triton_on_over_fastapi']:.2f}" if v["triton_on_over_fastapi"] else "n/a"]
                  for c, v in ratios.items()]},
        {"title": "Batch sizes formed by Triton's dynamic batcher (minilm_encoder, executions)",
         "columns": ["concurrency", "histogram {batch size: executions}"],
         "rows": [[r["concurrency"], json.dumps(r["batch_histogram"])] for r in on]},
    ]
    top = levels[-1]
    summary = (f"concurrency {top}: Triton ensemble {on[-1]['requests_per_s']:.0f} req/s with dynamic batching "
               f"(mean batch {on[-1]['mean_batch']:.1f}), {off[-1]['requests_per_s']:.0f} without; "
               + (f"onnx-embeddings FastAPI {peer[-1]['requests_per_s']:.0f} req/s" if peer else
                  f"onnx-embeddings peer {peer_status}"))
    enc = Path(s.model_repository) / "minilm_encoder" / "1" / "model.onnx"
    result = provenance.stamp(
        RECIPE_DIR,
        title="Triton ensemble (tokenizer -> ONNX encoder -> pooling): dynamic batching on vs off, and the "
              "onnx-embeddings FastAPI service, same machine, same run",
        model={"name": "sentence-transformers/all-MiniLM-L6-v2 (fp32 ONNX encoder)", "file": enc.name,
               "sha256": provenance.sha256_file(enc), "bytes": enc.stat().st_size},
        conditions=(f"levels {levels}; per level max({a.min_requests}, 10 x concurrency) measured requests "
                    f"after {a.warmup:g} s warm-up, capped at {a.max_seconds:g} s; Triton {Settings().instance_count} "
                    f"instance per composing model, max_batch_size {s.max_batch_size}, max_queue_delay "
                    f"{s.max_queue_delay_us} us, ORT intra-op threads {s.intra_op_threads or 'default'}; "
                    f"services run one at a time; load generator in one process on the same cores "
                    f"(tritonclient.http.aio / aiohttp); sentences of 8-16 tokens"),
        summary=summary, tables=tables, plots=["bench.png"],
        data={"services": by_service, "ratios": ratios, "peer_status": peer_status, "levels": levels,
              "load_avg_1m_at_start": load0, "load_avg_1m_at_end": os.getloadavg()[0]},
    )
    plot(a.out / "bench.png", by_service, levels)
    (a.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s", summary)
    log.info("wrote %s and bench.png", a.out / "bench.json")


if __name__ == "__main__":
    main()
