"""Bench: the in-process ONNX Runtime ceiling vs the live HTTP service, in one run.

    python -m onnx_embeddings.bench [--seconds 8] [--levels 1,8,32] [--out results]     (make bench)
    make bench BENCH_SECONDS=1 BENCH_LEVELS=1,8                                         (a short smoke run)

1. In-process ceiling: ``Embedder.run`` on pre-tokenised batches of each level (1 / 8 / 32 sentences), fp32 and
   int8, built by ``loader.load_embedder`` from the service's own settings → sentences/s and ms per batch (p50).
2. Service, each level right after the in-process level of the same size so both see the same machine:
   ``python -m onnx_embeddings`` (``launcher.ServerProcess``; served precision = ``ONNX_EMB_PRECISION``) on
   127.0.0.1; closed-loop clients at concurrency = level, each sending single-sentence requests back to back
   for ``--seconds`` and at least ``10 × concurrency`` requests → requests/s, p50 / p99 latency (ms; p99 only
   from ≥ 100 samples, else the max, labelled), mean micro-batch size (from /metrics).
3. Where the time goes: CPU seconds per request in the server process and in the client (they share the
   machine), and the fraction of wall time the ORT worker was busy (``onnx_emb_inference_seconds``).

Writes ``results/bench.json`` (provenance-stamped; ``data.figures`` holds every number the README's
"Measured results" prose quotes) and ``results/bench.png``, and rewrites the README's prose block from those
figures. Load is bounded in time and count. Runs under ``provenance.bench_lock`` (one bench per machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import provenance
from .launcher import ServerProcess
from .loader import load_embedder
from .model import Embedder
from .settings import RECIPE_DIR, Settings

log = logging.getLogger("onnx_embeddings.bench")

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
"""Bench sentences: short queries and statements, 8–16 tokens (typical search/RAG queries)."""

LEVELS = (1, 8, 32)
"""Default batch sizes / concurrencies (``--levels``)."""

WARMUP_S = 1.0
"""Seconds of unmeasured load before each service level (connections open, caches warm)."""

PROMPTS_PER_CLIENT = 10
"""Each service level sends at least ``PROMPTS_PER_CLIENT × concurrency`` measured requests (house rule)."""

P99_MIN_SAMPLES = 100
"""p99 is reported only from at least this many samples; below it the table shows the max, labelled."""

GOAL_FRACTION = 0.8
"""The recipe's target: the service keeps ≥ 80 % of the in-process ceiling at the top level."""

PROSE_START, PROSE_END = "<!-- bench-prose:start", "<!-- bench-prose:end -->"
"""Markers of the README block that :func:`render_prose` writes."""


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def ceiling(e: Embedder, b: int, seconds: float) -> dict[str, Any]:
    """In-process sentences/s of ``e`` at batch ``b`` (time-bounded, after 3 warm-up runs)."""
    enc = e.tokenize(SENTENCES * max(4, -(-b // len(SENTENCES))))
    batches = [enc[i:i + b] for i in range(0, len(enc) - b + 1, b)]
    for k in range(3):
        e.run(batches[k % len(batches)])
    times: list[float] = []
    n, t_end = 0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        batch = batches[len(times) % len(batches)]
        t0 = time.perf_counter()
        e.run(batch)
        times.append(time.perf_counter() - t0)
        n += len(batch)
    return {"batch": b, "sentences_per_s": n / sum(times), "ms_per_batch_p50": _pct(times, 50) * 1e3,
            "runs": len(times)}


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of a process, seconds (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    """Peak resident set size of a process (MiB, ``VmHWM`` in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def tail(lat_s: list[float]) -> tuple[float, str]:
    """``(ms, label)``: p99 from ≥ ``P99_MIN_SAMPLES`` samples, else the max with label ``"max"``."""
    if len(lat_s) >= P99_MIN_SAMPLES:
        return _pct(lat_s, 99) * 1e3, "p99"
    return (max(lat_s) * 1e3 if lat_s else float("nan")), "max"


async def _load(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """Closed loop: ``concurrency`` workers, one sentence per request, after ``WARMUP_S`` of warm-up.

    Measures for ``seconds`` and until ``PROMPTS_PER_CLIENT × concurrency`` requests have been answered, at
    most ``10 × seconds + 30`` s. The load generator is aiohttp (≈0.2 ms of client CPU per request here; httpx
    costs ≈2.8 ms, which on 2 shared cores would measure the client rather than the service).
    """
    import aiohttp

    lat: list[float] = []
    errors = 0
    want = PROMPTS_PER_CLIENT * concurrency
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as c:
        async def worker(i: int, t_end: float, hard_end: float, record: bool) -> None:
            nonlocal errors
            k = i
            while time.perf_counter() < hard_end and (time.perf_counter() < t_end or (record and len(lat) < want)):
                t0 = time.perf_counter()
                async with c.post("/v1/embeddings", json={"input": SENTENCES[k % len(SENTENCES)]}) as r:
                    body = await r.read()
                    ok = r.status == 200 and body.startswith(b'{"object":"list"')
                dt = time.perf_counter() - t0
                k += concurrency
                if not ok:
                    errors += 1
                elif record:
                    lat.append(dt)

        async def metrics() -> str:
            async with c.get("/metrics") as r:
                return await r.text()

        warm_end = time.perf_counter() + WARMUP_S
        await asyncio.gather(*(worker(i, warm_end, warm_end, False) for i in range(concurrency)))
        m0 = await metrics()
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(i, t0 + seconds, t0 + 10 * seconds + 30, True) for i in range(concurrency)))
        wall, client_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        m1 = await metrics()
    calls = _metric(m1, "onnx_emb_batch_size_count") - _metric(m0, "onnx_emb_batch_size_count")
    sents = _metric(m1, "onnx_emb_batch_size_sum") - _metric(m0, "onnx_emb_batch_size_sum")
    busy = _metric(m1, "onnx_emb_inference_seconds_sum") - _metric(m0, "onnx_emb_inference_seconds_sum")
    tail_ms, tail_label = tail(lat)
    return {"concurrency": concurrency, "requests": len(lat), "min_requests": want, "errors": errors,
            "wall_s": wall, "requests_per_s": len(lat) / wall, "p50_ms": _pct(lat, 50) * 1e3,
            "tail_ms": tail_ms, "tail_label": tail_label,
            "mean_batch": sents / calls if calls else float("nan"), "ort_busy_fraction": busy / wall,
            "ort_ms_per_call": busy / calls * 1e3 if calls else float("nan"),
            "client_cpu_ms_per_request": client_cpu / max(len(lat), 1) * 1e3}


def run_levels(s: Settings, embedders: dict[str, Embedder], seconds: float, levels: list[int],
               log_path: Path) -> tuple[dict[str, list[dict]], list[dict], float]:
    """Start the real server, then for each level: in-process runs at batch L, then the service at concurrency L.

    Interleaving puts each service level next to its ceiling, so both see the same (shared) machine.
    Returns (ceilings by embedder key, service rows, server peak RSS in MiB).
    """
    srv = ServerProcess(log_path=log_path, ONNX_EMB_LOG_LEVEL="warning",
                        ONNX_EMB_MAX_QUEUE=str(max(s.max_queue, 64)))
    ceil: dict[str, list[dict]] = {p: [] for p in embedders}
    rows = []
    with srv:
        for level in levels:
            load = os.getloadavg()[0]
            for key, e in embedders.items():
                r = ceiling(e, level, seconds / 2)
                ceil[key].append(r)
                log.info("in-process %s batch %d: %.0f sentences/s", key, level, r["sentences_per_s"])
            cpu0 = _proc_cpu_s(srv.pid)
            row = asyncio.run(_load(srv.url, level, seconds))
            # server CPU over warm-up + measured window, scaled to the measured window
            row["server_cpu_ms_per_request"] = (_proc_cpu_s(srv.pid) - cpu0) / max(row["requests"], 1) * 1e3 \
                * row["wall_s"] / (row["wall_s"] + WARMUP_S)
            row["load_avg_1m"] = load
            rows.append(row)
            log.info("service c=%d: %.0f req/s, p50 %.1f ms, %s %.1f ms, mean batch %.1f", level,
                     row["requests_per_s"], row["p50_ms"], row["tail_label"], row["tail_ms"], row["mean_batch"])
        rss = _peak_rss_mib(srv.pid)
    return ceil, rows, rss


def figures(s: Settings, levels: list[int], seconds: float, ceil: dict[str, list[dict]], best: list[dict],
            rows: list[dict], dim: int, rss: float, hw: dict[str, Any]) -> dict[str, Any]:
    """Every number the README prose quotes, rounded as the prose prints it (``render_prose`` reads only these).

    Keys ending ``_pct`` are percentages, ``_ms`` milliseconds, ``_x`` ratios.
    """
    served, top, first = s.precision, rows[-1], rows[0]
    ceil_top = best[-1]["sentences_per_s"]
    same_opts_top = ceil[served][-1]["ms_per_batch_p50"]
    return {
        "levels": levels, "top_level": levels[-1], "first_level": levels[0],
        "percentiles": [50, 99], "p99_min_samples": P99_MIN_SAMPLES, "prompts_per_client": PROMPTS_PER_CLIENT,
        "goal_pct": round(GOAL_FRACTION * 100), "seconds_per_level": seconds, "warmup_s": WARMUP_S,
        "in_process_seconds_per_level": seconds / 2, "logical_cores": hw.get("logical_cores"),
        "load_avg_start": round(hw.get("load_avg_1m_at_start") or 0.0, 1),
        "load_avg_end": round(hw.get("load_avg_1m_at_end") or 0.0, 1),
        "service_rps_top": round(top["requests_per_s"]), "ceiling_top": round(ceil_top),
        "ratio_top_pct": round(top["requests_per_s"] / ceil_top * 100),
        "meets_goal": top["requests_per_s"] / ceil_top >= GOAL_FRACTION,
        "mean_batch_top": round(top["mean_batch"], 1),
        "p50_first_ms": round(first["p50_ms"], 1), "ceiling_first_ms": round(best[0]["ms_per_batch_p50"], 1),
        "ratio_first_pct": round(first["requests_per_s"] / best[0]["sentences_per_s"] * 100),
        "p50_top_ms": round(top["p50_ms"], 1), "tail_top_ms": round(top["tail_ms"], 1),
        "tail_top_label": top["tail_label"],
        "ort_ms_top": round(top["ort_ms_per_call"], 1), "same_options_ms_top": round(same_opts_top, 1),
        "ort_slowdown_pct": round((top["ort_ms_per_call"] / same_opts_top - 1) * 100),
        "busy_top_pct": round(top["ort_busy_fraction"] * 100),
        "idle_top_pct": 100 - round(top["ort_busy_fraction"] * 100),
        "dim": dim,
        "server_cpu_top_ms": round(top["server_cpu_ms_per_request"], 2),
        "client_cpu_top_ms": round(top["client_cpu_ms_per_request"], 2),
        "client_cpu_share_top_pct": round(_client_share(top) * 100),
        "spin_on_first": round(ceil["alt" if not s.intra_op_spinning else served][0]["sentences_per_s"]),
        "spin_off_first": round(ceil[served if not s.intra_op_spinning else "alt"][0]["sentences_per_s"]),
        "int8_top": round(ceil["int8"][-1]["sentences_per_s"]), "fp32_top": round(ceil["fp32"][-1]["sentences_per_s"]),
        "int8_over_fp32_top_x": round(ceil["int8"][-1]["sentences_per_s"] / ceil["fp32"][-1]["sentences_per_s"], 1),
        "spinning": "on" if s.intra_op_spinning else "off", "served_precision": served,
        "server_peak_rss_mib": round(rss),
    }


def render_prose(f: dict[str, Any]) -> str:
    """The README's "Measured results" prose from :func:`figures` (every number in it comes from ``f``).

    Sentences that interpret a number are chosen by the number (goal met or not, spinning faster or not), so
    a re-run on another machine cannot leave a claim the tables contradict. Paragraphs wrapped at 112 columns.
    """
    top, first, served = f["top_level"], f["first_level"], f["served_precision"]
    p50, p99 = (f"p{q}" for q in f["percentiles"])
    goal = (f"which meets the recipe's goal of {f['goal_pct']} %" if f["meets_goal"]
            else f"short of the recipe's goal of {f['goal_pct']} %")
    if f["ratio_first_pct"] < 100:
        low = (f"At concurrency {first} {'there is nothing to batch and ' if first == 1 else ''}the fixed cost of "
               f"HTTP shows: {p50} {f['p50_first_ms']} ms against {f['ceiling_first_ms']} ms for a bare in-process "
               f"batch of {first} ({f['ratio_first_pct']} % of that ceiling in throughput).")
    else:
        low = (f"At concurrency {first} the service measured {f['ratio_first_pct']} % of the in-process batch-{first} "
               f"ceiling ({p50} {f['p50_first_ms']} ms against {f['ceiling_first_ms']} ms): the machine was busier "
               "during the in-process run than during the service run, so this level says little; re-run on a "
               "quiet machine.")
    speed = ("so inference itself runs at full speed" if f["ort_slowdown_pct"] <= 10
             else f"so inference itself runs {f['ort_slowdown_pct']} % slower than in-process")
    tail_txt = (f"{p99} {f['tail_top_ms']} ms" if f["tail_top_label"] == "p99"
                else f"max {f['tail_top_ms']} ms: fewer than {f['p99_min_samples']} samples, so no {p99}")
    if f["spin_on_first"] > f["spin_off_first"]:
        spin = (f"**Thread spinning is a latency/throughput trade-off.** In-process at batch {first}, {served}, "
                f"spinning on gives {f['spin_on_first']} sentences/s against {f['spin_off_first']} with spinning off "
                "(first table). The service defaults to spinning off: spinning threads burn the CPU that the event "
                "loop needs between batches and compete with any other process on the same cores. On a dedicated "
                "machine serving mostly sequential traffic, `ONNX_EMB_INTRA_OP_SPINNING=true` lowers latency at "
                "low concurrency.")
    else:
        spin = (f"**Thread spinning did not pay off in this run.** In-process at batch {first}, {served}, spinning on "
                f"gave {f['spin_on_first']} sentences/s against {f['spin_off_first']} with spinning off (first table): "
                "spinning threads busy-wait for the next op and lose when other processes share the cores, which "
                "is why the service defaults to spinning off. On a dedicated, otherwise idle machine "
                "`ONNX_EMB_INTRA_OP_SPINNING=true` can lower latency at low concurrency; measure it there.")
    paragraphs = [
        f"**Reading the tables.** At concurrency {top} the service answers {f['service_rps_top']} single-sentence "
        f"requests/s, **{f['ratio_top_pct']} % of the best in-process {served} ceiling** at batch {top} "
        f"({f['ceiling_top']} sentences/s, measured right before it), {goal}. Absolute figures move between runs on "
        "a shared machine; compare a service level only with the ceiling measured next to it. Micro-batching does "
        f"its part: the mean ORT batch at concurrency {top} is {f['mean_batch_top']} requests, so one `session.run` "
        f"serves a whole cohort of clients. {low}",
        f"**Where the time goes** (profiled with py-spy, and the third table). Inside the service a batch of {top} "
        f"takes {f['ort_ms_top']} ms in ORT against {f['same_options_ms_top']} ms in-process with the same session "
        f"options, {speed}; the loss is the {f['idle_top_pct']} % of wall time the ORT worker sits idle (busy "
        f"{f['busy_top_pct']} %). In this closed loop all {top} clients wait on the same batch, so between two "
        f"batches the single event-loop thread must write {top} responses and parse, validate and tokenise {top} new "
        "requests while the cores idle. The profile pointed at three per-request costs that are now fixed in the "
        f"code: `json.dumps` of {f['dim']} floats (replaced by orjson with numpy), the tokenizer's thread pool waking "
        "for one sentence (small requests now use `encode`), and FastAPI's native OpenTelemetry check (disabled; "
        f"metrics go to Prometheus). At concurrency {top} the server process spends {f['server_cpu_top_ms']} ms of "
        f"CPU per request and the load generator (aiohttp on the same cores) {f['client_cpu_top_ms']} ms, "
        f"{f['client_cpu_share_top_pct']} % of the CPU the two use together. {p50} at concurrency {top} is "
        f"{f['p50_top_ms']} ms ({tail_txt}) against {f['same_options_ms_top']} ms for one in-process batch of {top}: "
        "every client waits for its whole batch.",
        spin,
        f"**Conditions.** One run of `make bench` on a {f['logical_cores']}-core machine, load average over one "
        f"minute {f['load_avg_start']} at the start and {f['load_avg_end']} at the end (the bench's own processes "
        f"included); {f['seconds_per_level']:g} s per service level after {f['warmup_s']:g} s of warm-up and at "
        f"least {f['prompts_per_client']} requests per client, {f['in_process_seconds_per_level']:g} s per "
        f"in-process level. int8 is {f['int8_over_fp32_top_x']}× fp32 in-process at batch {top} in the first table "
        f"({f['int8_top']} against {f['fp32_top']} sentences/s, spinning {f['spinning']}); serve it with "
        "`ONNX_EMB_PRECISION=int8` when the notebook's int8 parity is enough for you. Server peak RSS was "
        f"{f['server_peak_rss_mib']} MiB.",
    ]
    return "\n\n".join(textwrap.fill(p, 112, break_on_hyphens=False, break_long_words=False)
                       for p in paragraphs) + "\n"


def update_readme(readme: Path, prose: str) -> bool:
    """Replace the block between ``PROSE_START`` … ``PROSE_END`` in ``readme`` with ``prose``; False if no markers."""
    text = readme.read_text(encoding="utf-8")
    i, j = text.find(PROSE_START), text.find(PROSE_END)
    if i < 0 or j < i:
        return False
    head = text[:text.index("\n", i) + 1]  # keep the start marker line as it is
    readme.write_text(head + prose + text[j:], encoding="utf-8")
    return True


def prose_block(readme_text: str) -> str:
    """The text between the prose markers of a README (empty if absent)."""
    i, j = readme_text.find(PROSE_START), readme_text.find(PROSE_END)
    return readme_text[readme_text.index("\n", i) + 1:j] if 0 <= i < j else ""


def plot(path: Path, levels: list[int], ceil: dict[str, list[dict]], labels: dict[str, str], served: str,
         rows: list[dict]) -> None:
    """Two panels: throughput (in-process vs service) and service latency p50 / p99 (or max) vs concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    x = np.arange(len(levels))
    series = [(f"ORT in-process {label} (batch)", [r["sentences_per_s"] for r in ceil[key]])
              for key, label in labels.items()]
    series.append((f"service {served} (concurrency)", [r["requests_per_s"] for r in rows]))
    w = 0.8 / len(series)
    for k, (name, vals) in enumerate(series):
        ax1.bar(x + (k - (len(series) - 1) / 2) * w, vals, w, label=name)
    ax1.set_xticks(x, [str(v) for v in levels])
    ax1.set_xlabel("batch size / concurrent single-sentence requests")
    ax1.set_ylabel("sentences per second")
    ax1.set_title("Throughput")
    ax1.legend(fontsize=8)
    ax2.plot(levels, [r["p50_ms"] for r in rows], "o-", label="p50")
    tail_name = "p99" if all(r["tail_label"] == "p99" for r in rows) else f"p99 (max where < {P99_MIN_SAMPLES} samples)"
    ax2.plot(levels, [r["tail_ms"] for r in rows], "s--", label=tail_name)
    if len(levels) > 1:
        ax2.set_xscale("log", base=2)
    ax2.set_xticks(levels, [str(v) for v in levels])
    ax2.set_xlabel("concurrent requests")
    ax2.set_ylabel("latency (ms)")
    ax2.set_title(f"Service latency ({served})")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _client_share(r: dict) -> float:
    """Client CPU ÷ (client + server) CPU per request of a service row (0 when nothing was measured)."""
    both = r["client_cpu_ms_per_request"] + r["server_cpu_ms_per_request"]
    return r["client_cpu_ms_per_request"] / both if both else 0.0


def tables(s: Settings, labels: dict[str, str], ceil: dict[str, list[dict]], best: list[dict],
           rows: list[dict]) -> list[dict[str, Any]]:
    """The three results tables: in-process ceiling, service, and service ÷ ceiling with CPU per request."""
    served, spin = s.precision, "on" if s.intra_op_spinning else "off"
    top = best[-1]["sentences_per_s"]
    top_level = rows[-1]["concurrency"]

    def tail_cell(r: dict) -> float | str:
        return round(r["tail_ms"], 1) if r["tail_label"] == "p99" else f"max {r['tail_ms']:.1f}"

    return [
        {"title": "In-process ONNX Runtime ceiling (pre-tokenised batches, no HTTP)",
         "columns": ["precision, ORT thread spinning", "batch", "sentences/s", "ms per batch (p50)"],
         "rows": [[labels[p], r["batch"], round(r["sentences_per_s"]), round(r["ms_per_batch_p50"], 1)]
                  for p in labels for r in ceil[p]],
         "note": f"the service runs with spinning {spin}; the ceiling used below is the better of the two "
                 f"{served} rows at each batch size"},
        {"title": f"Service ({served}), one sentence per request, closed loop",
         "columns": ["concurrency", "requests", "requests/s", "p50 ms", "p99 ms", "mean batch", "ORT ms per batch",
                     "errors"],
         "rows": [[r["concurrency"], r["requests"], round(r["requests_per_s"]), round(r["p50_ms"], 1), tail_cell(r),
                   round(r["mean_batch"], 1), round(r["ort_ms_per_call"], 1), r["errors"]] for r in rows],
         "note": f"p99 only from at least {P99_MIN_SAMPLES} samples; a 'max' cell is the slowest request of a "
                 "level with fewer samples"},
        {"title": "Service ÷ in-process ceiling, and where the CPU goes",
         "columns": ["concurrency", "÷ in-process at same batch", f"÷ in-process batch {top_level}",
                     "ORT worker busy", "server CPU ms/request", "client CPU ms/request", "client CPU share",
                     "load avg 1 min"],
         "rows": [[r["concurrency"], f"{r['requests_per_s'] / cr['sentences_per_s']:.0%}",
                   f"{r['requests_per_s'] / top:.0%}", f"{r['ort_busy_fraction']:.0%}",
                   round(r["server_cpu_ms_per_request"], 2), round(r["client_cpu_ms_per_request"], 2),
                   f"{_client_share(r):.0%}",
                   round(r["load_avg_1m"], 2)] for r, cr in zip(rows, best)],
         "note": "each service level ran right after its in-process level; client (load generator) and server "
                 "share the same cores; 'ORT worker busy' = time inside session.run / wall time; client CPU "
                 "share = client ÷ (client + server) CPU per request"},
    ]


def main(argv: list[str] | None = None) -> None:
    """CLI: run the bench; write ``results/bench.json`` + ``results/bench.png`` and the README prose block."""
    from .export import export_all

    ap = argparse.ArgumentParser(description="in-process ORT ceiling vs the live service")
    ap.add_argument("--seconds", type=float, default=8.0, help="measured seconds per service level (in-process: half)")
    ap.add_argument("--levels", type=lambda v: [int(x) for x in v.split(",") if x.strip()],
                    default=list(LEVELS), help="comma-separated batch sizes = concurrencies (default: 1,8,32)")
    ap.add_argument("--out", type=Path, default=RECIPE_DIR / "results")
    ap.add_argument("--readme", type=Path, default=RECIPE_DIR / "README.md",
                    help="README whose prose block is rewritten from the results ('' to skip)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll otherwise
    levels = sorted(set(a.levels))
    s = Settings()
    a.out.mkdir(parents=True, exist_ok=True)
    paths = export_all(s.resolved_model_dir(), s.onnx_dir)

    with provenance.bench_lock():
        served, spin = s.precision, "on" if s.intra_op_spinning else "off"
        alt = "off" if s.intra_op_spinning else "on"
        # one loader for the service and the ceiling: same file, provider, threads, spinning and graph
        # optimisation by construction. The ceiling is the best in-process configuration: the service's
        # settings, and the served precision with ORT's thread spinning flipped (it wins at batch 1 when idle)
        embedders = {p: load_embedder(s.model_copy(update={"precision": p, "onnx_path": None}))
                     for p in ("fp32", "int8")}
        embedders["alt"] = load_embedder(s.model_copy(update={"intra_op_spinning": not s.intra_op_spinning,
                                                                "onnx_path": None}))
        labels = {"fp32": f"fp32, spinning {spin}", "int8": f"int8, spinning {spin}",
                  "alt": f"{served}, spinning {alt}"}
        ceil, rows, rss = run_levels(s, embedders, a.seconds, levels, Path(s.onnx_dir) / "bench-server.log")
        best = [max(x, y, key=lambda r: r["sentences_per_s"]) for x, y in zip(ceil[served], ceil["alt"])]
        hw = provenance.hardware()
        fig = figures(s, levels, a.seconds, ceil, best, rows, embedders[served].dim, rss, hw)
        onnx_path = paths[served]
        result = provenance.stamp(
            RECIPE_DIR,
            title="all-MiniLM-L6-v2 on ONNX Runtime: in-process ceiling vs FastAPI service with micro-batching",
            model={"name": "sentence-transformers/all-MiniLM-L6-v2 (" + served + " ONNX)", "file": onnx_path.name,
                   "sha256": provenance.sha256_file(onnx_path), "bytes": onnx_path.stat().st_size},
            conditions=(f"{s.execution_provider}, intra-op threads {s.intra_op_threads or 'ORT default'} "
                        f"(spinning {spin}), graph optimisation {s.graph_optimization}; service: max batch "
                        f"{s.max_batch_size}, max wait {s.max_wait_ms} ms, uvicorn 1 worker (uvloop + httptools); "
                        f"load generator aiohttp in one process on the same machine; {a.seconds:g} s and at least "
                        f"{PROMPTS_PER_CLIENT} requests per client per service level after {WARMUP_S:g} s warm-up, "
                        f"{a.seconds / 2:g} s per in-process level; levels {','.join(map(str, levels))}; "
                        "sentences of 8-16 tokens"),
            summary=(f"service {fig['service_rps_top']} req/s at concurrency {fig['top_level']} = "
                     f"{fig['ratio_top_pct']}% of the best in-process {served} ceiling ({fig['ceiling_top']} "
                     f"sentences/s at batch {fig['top_level']}); p50 {fig['p50_top_ms']} ms, "
                     f"{fig['tail_top_label']} {fig['tail_top_ms']} ms"),
            tables=tables(s, labels, ceil, best, rows),
            plots=["bench.png"],
            data={"figures": fig, "ceiling": ceil, "ceiling_labels": labels, "best_ceiling": best, "service": rows,
                  "served_precision": served, "levels": levels, "seconds": a.seconds,
                  "ratio_top_over_ceiling": rows[-1]["requests_per_s"] / best[-1]["sentences_per_s"],
                  "server_peak_rss_mib": rss},
        )
    plot(a.out / "bench.png", levels, ceil, labels, served, rows)
    (a.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    if str(a.readme) and a.readme.is_file() and update_readme(a.readme, render_prose(fig)):
        log.info("rewrote the prose block of %s from the results", a.readme)
    log.info("%s", result["summary"])
    log.info("server peak RSS %.0f MiB; wrote %s and bench.png", rss, a.out / "bench.json")


if __name__ == "__main__":
    main()
