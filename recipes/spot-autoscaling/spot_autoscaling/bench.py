"""``make bench``: the chaos scenarios and the cost table, written to ``results/`` with provenance.

    python -m spot_autoscaling.bench            # SPOT_BENCH_REQUESTS=2000 SPOT_BENCH_CONCURRENCY=8

Writes ``results/chaos.json`` + ``results/chaos.png`` (failed requests, p50/p99 through the reclaim, drain
duration, per scenario) and ``results/cost.json`` (the cost calculator's table, the same function the notebook
runs). Settings: ``SPOT_BENCH_REQUESTS`` (per scenario), ``SPOT_BENCH_CONCURRENCY``, ``SPOT_BENCH_SCENARIOS``
(comma-separated names, default all).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

from . import cost, provenance
from .chaos import (RECIPE_DIR, Fleet, Scenario, Timing, ensure_onnx_model, missing_parts, probe_all_down,
                    replica_recipe, run_scenario, summarize)

log = logging.getLogger("spot_autoscaling.bench")
RESULTS = RECIPE_DIR / "results"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def scenarios(n: int, c: int) -> list[Scenario]:
    """The four on/off combinations plus a notice shorter than the drain needs."""
    return [Scenario("drain + retries", True, True, n, c),
            Scenario("drain only", True, False, n, c),
            Scenario("short notice (1-2 s) + drain + retries", True, True, n // 2, c, notice_posted_s=2.0),
            Scenario("retries only", False, True, n, c),
            Scenario("neither", False, False, n, c)]


def replica_versions() -> dict[str, str]:
    """Versions in the replica recipe's venv (onnxruntime, fastapi, uvicorn) and of haproxy."""
    py = replica_recipe() / ".venv" / "bin" / "python"
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "['onnxruntime', 'fastapi', 'uvicorn']}))")
    out = json.loads(subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout)
    out["haproxy"] = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()[2]
    return out


def plot(outcomes, path: Path) -> None:
    """Latency of each request over time (through HAProxy) for the scenarios, notices and kills marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(outcomes), 1, figsize=(9, 2.1 * len(outcomes)), sharex=True)
    for ax, o in zip(axes, outcomes):
        ok = [(t, l) for t, l, good in o.timeline if good]
        bad = [(t, l) for t, l, good in o.timeline if not good]
        ax.scatter([t for t, _ in ok], [l for _, l in ok], s=3, color="#3b6ea5", label="ok")
        if bad:
            ax.scatter([t for t, _ in bad], [l for _, l in bad], s=18, color="#c0392b", marker="x",
                       label=f"failed ({len(bad)})")
        for i, n in enumerate(o.notices):
            ax.axvline(n["posted_s"], color="#e69f00", ls="--", lw=1, label="notice" if i == 0 else None)
            ax.axvline(n["deadline_s"], color="#000000", ls=":", lw=1, label="instance gone" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_ylabel("latency ms")
        ax.set_title(f"{o.name}: {o.failed} failed of {o.requests}, p99 {o.p99_ms:g} ms", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("seconds since load start")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run() -> None:
    """Run every scenario once and write the results files. Raises ``RuntimeError`` if parts are missing."""
    why = missing_parts()
    if why:
        raise RuntimeError(why)
    n = int(os.environ.get("SPOT_BENCH_REQUESTS", 2000))
    c = int(os.environ.get("SPOT_BENCH_CONCURRENCY", 8))
    only = [s for s in os.environ.get("SPOT_BENCH_SCENARIOS", "").split(",") if s]
    RESULTS.mkdir(exist_ok=True)
    onnx = ensure_onnx_model() / "model.fp32.onnx"
    timing = Timing()
    with provenance.bench_lock():
        outcomes = []
        with Fleet(4, agent=True, timing=timing) as fleet:
            for sc in scenarios(n, c):
                if not only or sc.name in only:
                    outcomes.append(run_scenario(fleet, sc))
            fleet.set_agent(True)
            fleet.restart_all()
            correlated = probe_all_down(fleet)
        model = {"name": MODEL, "file": onnx.name, "sha256": provenance.sha256_file(onnx), "bytes": onnx.stat().st_size}
        rows = [[o.name, o.requests, o.failed, o.retried_requests, o.p50_ms, o.p99_ms, o.window_p99_ms,
                 o.window_max_ms, ", ".join(f"{d:.2f}" for d in o.drain_s) or "-", o.short_notice_warnings,
                 o.client_cpu_pct]
                for o in outcomes]
        by = {o.name: o for o in outcomes}
        data = {"scenarios": [o.as_dict() for o in outcomes], "correlated_reclaim": correlated,
                "timing": timing.__dict__, "replica_versions": replica_versions(), **summarize(outcomes)}
        if "drain + retries" in by and "neither" in by:
            data["failed_neither"] = by["neither"].failed
            data["failed_drain_retries"] = by["drain + retries"].failed
        result = provenance.stamp(
            RECIPE_DIR, title="Chaos test: 2 of 4 replicas reclaimed during a bounded load through HAProxy",
            model=model,
            conditions=(f"{n} requests per scenario at concurrency {c}, one sentence each, POST /v1/embeddings through "
                        f"HAProxy (round robin, /readyz checked every {timing.lb_inter_ms} ms, fall {timing.lb_fall}) "
                        f"to 4 onnx-embeddings replicas (fp32, 1 intra-op thread each), all on this machine; "
                        f"notice compressed from 120 s to {timing.notice_posted_s:g} s (rounded down to whole "
                        f"seconds), agent poll {timing.poll_interval_s:g} s, drain delay {timing.drain_delay_s:g} s; "
                        "latencies are the client's, retries included; client = httpx async in the bench process"),
            summary=(f"drain + retries: {by['drain + retries'].failed if 'drain + retries' in by else '?'} failed of "
                     f"{n}; neither: {by['neither'].failed if 'neither' in by else '?'} failed; correlated reclaim → "
                     f"{correlated['statuses']} with Retry-After {correlated['retry_after']}"),
            tables=[{"title": "Requests through a reclaim of 2 of 4 replicas",
                     "columns": ["scenario", "requests", "failed", "retried", "p50 ms", "p99 ms",
                                 "p99 ms in reclaim window", "max ms in reclaim window", "drain s",
                                 "short-notice warnings", "client CPU % of a core"],
                     "rows": rows,
                     "note": "p99 from ≥ 100 samples per scenario (the reclaim window of the short-notice run "
                             "may hold fewer: check its request count in chaos.json); the reclaim window runs from "
                             "the first notice to 1 s after the last instance was gone. The load generator runs in "
                             "the bench process on the same 2 cores as HAProxy and the replicas."},
                    {"title": "All 4 replicas reclaimed at once (correlated reclaim), 20 requests without retries",
                     "columns": ["statuses", "Retry-After", "error code", "slowest answer ms"],
                     "rows": [[" ".join(map(str, correlated["statuses"])), " ".join(correlated["retry_after"]),
                               " ".join(correlated["error_codes"]), correlated["max_ms"]]]}],
            plots=["chaos.png"], data=data)
        plot(outcomes, RESULTS / "chaos.png")
        (RESULTS / "chaos.json").write_text(json.dumps(result, indent=1) + "\n")
        write_cost(model)


def write_cost(model: dict) -> Path:
    """``results/cost.json``: the cost table (the notebook calls the same ``cost.table``)."""
    tab = cost.table()
    ex = cost.worked_example()
    result = provenance.stamp(
        RECIPE_DIR, title="Expected hourly cost of a mixed on-demand + spot fleet",
        model={"name": "none: a calculator (its inputs are prices, not a model)"},
        conditions="calculator, not a measurement: prices are dated inputs (see note)",
        summary=(f"8 × g5.xlarge with base 2 + 25% on-demand: {ex['savings_pct']}% saved vs all on-demand "
                 f"(headline spot discount {ex['headline_discount_pct']}%)"),
        tables=[tab], plots=[], data={"worked_example": ex, "prices": cost.PRICES, "buckets": cost.BUCKETS})
    path = RESULTS / "cost.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run()
