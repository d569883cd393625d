"""CLI: ``python -m benchmarks run|plot|crosscheck`` (run from the repo root, in the repo venv).

``run [--task chat|embeddings] [--backends a,b] [--smoke] [--force] [--no-crosscheck] [--out DIR]``: every
backend of each task, one at a time, under the bench lock, then the cross-check; ``--smoke`` = tiny levels
(:meth:`Workload.smoke`) written to a temporary folder (never to ``benchmarks/results/``).
``plot``: regenerate the figures from the committed results. ``crosscheck``: only the cross-check.
Levels can be narrowed for a short run: ``BENCH_CHAT_LEVELS=1,4 BENCH_EMBED_LEVELS=1,8 BENCH_OUTPUT_TOKENS=16``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from cookbook import provenance_template as prov

from .config import HERE, Workload, load_prices, load_targets

log = logging.getLogger("benchmarks")
RESULTS = HERE / "results"
#: Highest 1-minute load average at which a full run starts (else it waits, then refuses unless --force).
MAX_LOAD = 1.5


def workload(smoke: bool) -> Workload:
    """The full (or smoke) workload, with ``BENCH_*`` environment overrides for a short run."""
    wl = Workload.smoke() if smoke else Workload()
    upd = {}
    for env, field in (("BENCH_CHAT_LEVELS", "chat_levels"), ("BENCH_EMBED_LEVELS", "embed_levels"),
                       ("BENCH_EMBED_BATCHES", "embed_batches")):
        if os.environ.get(env):
            upd[field] = [int(x) for x in os.environ[env].split(",")]
    for env, field in (("BENCH_OUTPUT_TOKENS", "output_tokens"), ("BENCH_INPUT_WORDS", "input_words"),
                       ("BENCH_PROMPTS_PER_LEVEL", "prompts_per_level")):
        if os.environ.get(env):
            upd[field] = int(os.environ[env])
    return Workload.model_validate({**wl.model_dump(), **upd})


def wait_for_quiet(force: bool, wait_s: float = 300) -> float:
    """Wait up to ``wait_s`` for the 1-min load to fall to :data:`MAX_LOAD`; returns it. Raises ``SystemExit``
    if it does not (unless ``force``: then a warning)."""
    deadline = time.monotonic() + wait_s
    while (load := os.getloadavg()[0]) > MAX_LOAD and time.monotonic() < deadline and not force:
        log.info("1-min load %.2f > %.1f: waiting for a quiet machine", load, MAX_LOAD)
        time.sleep(15)
    if load > MAX_LOAD:
        if not force:
            raise SystemExit(f"1-min load {load:.2f} still above {MAX_LOAD} after {wait_s:g} s; use --force to run anyway")
        log.warning("1-min load %.2f > %.1f: running anyway (--force); the results record it", load, MAX_LOAD)
    return round(load, 2)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 if any backend that should run failed)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "crosscheck"):
        p = sub.add_parser(name)
        p.add_argument("--smoke", action="store_true")
        p.add_argument("--force", action="store_true", help="run even if the machine is busy")
        p.add_argument("--out", type=Path, default=None)
        if name == "run":
            p.add_argument("--task", choices=["chat", "embeddings"], default=None)
            p.add_argument("--backends", default=None, help="comma-separated ids (targets.yaml)")
            p.add_argument("--no-crosscheck", action="store_true")
    sub.add_parser("plot")
    a = ap.parse_args(argv)
    from . import crosscheck, plots, runner

    if a.cmd == "plot":
        for f in sorted(RESULTS.glob("*.json")):
            res = json.loads(f.read_text())
            if res.get("kind") == "cross-backend":
                log.info("plotted %s", plots.plot_task(res, RESULTS))
        return 0
    targets = load_targets()
    wl = workload(a.smoke)
    out = a.out or (Path(tempfile.mkdtemp(prefix="bench-smoke-")) if a.smoke else RESULTS)
    failed = False
    with prov.bench_lock() as _:
        load0 = wait_for_quiet(a.force or a.smoke)
        if a.cmd == "run":
            tasks = [a.task] if a.task else ["chat", "embeddings"]
            want = set(a.backends.split(",")) if a.backends else None
            for task in tasks:
                ts = [t for t in getattr(targets, task) if want is None or t.id in want]
                if not ts:
                    continue
                res = runner.run_task(task, ts, wl, load_prices(), out, a.smoke, load0)
                failed |= any(b["status"] == "failed" for b in res["backends"])
            if not a.no_crosscheck and want is None and a.task is None:
                cc = crosscheck.run_crosscheck({"chat": targets.chat, "embeddings": targets.embeddings}, wl, out,
                                               a.smoke, load0)
                failed |= any("error" in c for c in cc["checks"])
        else:
            cc = crosscheck.run_crosscheck({"chat": targets.chat, "embeddings": targets.embeddings}, wl, out,
                                           a.smoke, load0)
            failed |= any("error" in c for c in cc["checks"])
    log.info("results in %s", out)
    print(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
