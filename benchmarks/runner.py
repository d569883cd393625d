"""Run the benchmark of one task over its backends, one server at a time, and write ``<task>.json``.

Results file (``benchmarks/results/<task>.json``; ``schema: 1``)::

    {"schema": 1, "kind": "cross-backend", "task": "chat" | "embeddings", "smoke": false,
     "date", "git_revision", "python", "hardware": {... "load_avg_1m_at_start", "load_avg_1m_at_end"},
     "workload": {Workload fields}, "prices": {prices.yaml},
     "backends": [{"id", "label", "recipe", "catalog", "api", "model_id", "status": "ok" | "not run" | "failed",
                   "reason", "notes", "request_extras": [names], "versions": {pin: installed}, "model": {...},
                   "url", "overrides": {env}, "command", "cold_start_s", "peak_rss_mib",
                   "load_avg_1m_at_start", "load_avg_1m_at_end", "duration_s",
                   "levels": [{"concurrency", ("batch"), "requests", "completed", "failed", "duration_s",
                               "output_tokens_per_s" | "embeddings_per_s", "requests_per_s",
                               "ttft"/"tpot"/"itl"/"e2e": {"n", "p50_ms", "p90_ms", "p99_ms" | "max_ms", "mean_ms"},
                               "client_cpu_s", "client_cpu_share", ...}],
                   "cost": {"usd_per_million", "unit", "at_concurrency", ("batch"), "units_per_s"}}],
     "ratios": [{"id", "text", "values": {...}}],
     "plots": ["<task>.png"]}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from cookbook import provenance_template as prov

from . import loadgen, stats
from .config import REPO, Prices, Target, Workload
from .server import Served

log = logging.getLogger("benchmarks")


def num(x: float | int) -> str:
    """How the page writes a stored number: ``12`` for 12.0, else Python's shortest repr (``123.45``)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def sig(x: float | None, digits: int = 4) -> float | None:
    """``x`` rounded to ``digits`` significant digits (``None`` stays ``None``)."""
    if x is None or x == 0:
        return x
    return float(f"{x:.{digits}g}")


def recipe_versions(target: Target) -> dict[str, str]:
    """Installed version (in the recipe's venv) of every package pinned in its ``requirements.txt``."""
    pins = prov.read_pins(target.dir / "requirements.txt")
    py = target.dir / ".venv" / "bin" / "python"
    try:
        out = subprocess.run([str(py), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        have = {prov.normalize(p["name"]): p["version"] for p in json.loads(out)}
    except (OSError, subprocess.SubprocessError, ValueError):
        have = {}
    return {name: have.get(name, "not installed") for name in sorted(pins)}


def model_block(target: Target) -> dict[str, Any]:
    """The served model's name/file/sha256/bytes: hashed from ``model_file``, else the ``model`` block of the
    recipe's committed results (``model_results`` or the first ``results/*.json`` that has one)."""
    if target.model_file:
        files = sorted(target.dir.glob(target.model_file))
        if files:
            f = files[0]
            return {"file": str(f.relative_to(target.dir)), "sha256": prov.sha256_file(f),
                    "bytes": f.stat().st_size, "source": "hashed by the runner"}
    cands = [target.dir / target.model_results] if target.model_results else sorted((target.dir / "results").glob("*.json"))
    for c in cands:
        try:
            m = json.loads(c.read_text()).get("model")
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and m.get("sha256"):
            return {**m, "source": f"recipes/{target.recipe}/{c.relative_to(target.dir)}"}
    return {"sha256": None, "source": "unknown"}


def eog_logit_bias() -> dict[str, float]:
    """``logit_bias`` banning SmolLM2's end-of-generation tokens, computed by the llama.cpp recipe's own
    ``python -m llamacpp_server.eog`` in its venv (vocabulary only, no weights loaded)."""
    d = REPO / "recipes" / "llamacpp-server"
    out = subprocess.run([str(d / ".venv" / "bin" / "python"), "-m", "llamacpp_server.eog"], cwd=d,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def request_extras(target: Target, bias: dict[str, float] | None) -> dict[str, Any]:
    """The body fields a chat target gets on top of :func:`loadgen.chat_body`."""
    ex: dict[str, Any] = {}
    if target.extras.ignore_eos:
        ex["ignore_eos"] = True
    if target.extras.eog_logit_bias and bias:
        ex["logit_bias"] = bias
    if target.extras.stream_options:
        ex["stream_options"] = {"include_usage": True}
    return ex


def model_id(target: Target, url: str) -> str:
    """``target.model``, else the first id of ``/v1/models``."""
    if target.model:
        return target.model
    import httpx
    return httpx.get(url + "/v1/models", timeout=10, trust_env=False).json()["data"][0]["id"]


def _load() -> float:
    return round(os.getloadavg()[0], 2)


#: A backend's levels start once the 1-minute load average is at most this (or after QUIET_WAIT_S): the
#: previous backend's shutdown and this one's start-up (vLLM compiles) keep the cores busy for a while.
QUIET_LOAD = 1.0
QUIET_WAIT_S = 150.0


def wait_quiet(limit: float = QUIET_LOAD, max_wait_s: float = QUIET_WAIT_S) -> tuple[float, float]:
    """Sleep until the 1-minute load average is <= ``limit`` or ``max_wait_s`` passed (the server is up and
    idle meanwhile). Returns (seconds waited, load average then). The 1-minute figure decays with a 60 s time
    constant (Linux ``CALC_LOAD``), so from 3 to 1 takes about a minute of idle."""
    t0 = time.monotonic()
    while os.getloadavg()[0] > limit and time.monotonic() - t0 < max_wait_s:
        time.sleep(2)
    return round(time.monotonic() - t0, 1), _load()


def warmup(task: str, target: Target, url: str, mid: str, wl: Workload, extras: dict[str, Any]) -> dict[str, Any]:
    """One untimed request (not part of any level); returns its e2e seconds and whether it succeeded."""
    if task == "chat":
        lv = loadgen.run_chat_level(url, mid, 1, 1, ["Say hello."], wl.output_tokens, extras, wl.request_timeout_s)
    else:
        lv = loadgen.run_embed_level(url, target.api, mid, 1, 1, 1, ["Hello."], wl.request_timeout_s)
    return {"ok": lv["completed"] == 1, "e2e_ms": (lv["e2e"] or {}).get("max_ms"), "errors": lv["errors"]}


def run_backend(task: str, target: Target, wl: Workload, bias: dict[str, float] | None,
                quiet: bool = True) -> dict[str, Any]:
    """Start ``target``, run every level of ``wl`` against it, stop it (always). Never raises for a backend
    failure: the entry then has ``status: "failed"`` and the reason. ``quiet``: before the first level, wait for
    the machine to be quiet (:func:`wait_quiet`; the smoke run does not)."""
    entry: dict[str, Any] = {"id": target.id, "label": target.label, "recipe": target.recipe,
                             "catalog": target.catalog, "api": target.api, "notes": target.notes,
                             "levels": [], "status": "ok", "reason": None}
    missing = [b for b in target.requires_binaries if shutil.which(b) is None]
    if missing:
        entry.update(status="not run", reason=f"not run: no {', '.join(missing)} binary on this machine")
        return entry
    entry["versions"] = recipe_versions(target)
    entry["model"] = model_block(target)
    extras = request_extras(target, bias) if task == "chat" else {}
    entry["request_extras"] = sorted(extras)
    entry["load_avg_1m_at_launch"] = entry["load_avg_1m_at_start"] = _load()
    t0 = time.monotonic()
    srv = Served(target)
    try:
        srv.start()
        for mk in target.after_ready:
            srv.make(mk)
        mid = model_id(target, srv.url)
        entry["model_id"] = mid
        # one untimed request first (as vllm bench serve's test prompt): lazy initialisation is not a level's
        entry["warmup"] = warmup(task, target, srv.url, mid, wl, extras)
        if quiet:
            entry["quiet_wait_s"], entry["load_avg_1m_at_start"] = wait_quiet()
        if task == "chat":
            # every request of the run gets its own prompt: no level reuses one that an earlier level put into
            # a prefix cache (vLLM caches prefixes by default)
            plist = loadgen.prompts(sum(wl.chat_levels) * wl.prompts_per_level, wl.input_words, wl.seed)
            start = 0
            for c in wl.chat_levels:
                n = wl.prompts_per_level * c
                lv = loadgen.run_chat_level(srv.url, mid, c, n, plist[start:start + n], wl.output_tokens,
                                            extras, wl.request_timeout_s)
                start += n
                log.info("%s c=%d: %s tok/s, %d failed", target.id, c, lv["output_tokens_per_s"], lv["failed"])
                entry["levels"].append(lv)
        else:
            sents = loadgen.prompts(512, wl.sentence_words, wl.seed + 1)
            for b in wl.embed_batches:
                for c in wl.embed_levels:
                    lv = loadgen.run_embed_level(srv.url, target.api, mid, c, wl.prompts_per_level * c, b, sents,
                                                 wl.request_timeout_s)
                    log.info("%s batch=%d c=%d: %s emb/s, %d failed", target.id, b, c, lv["embeddings_per_s"],
                             lv["failed"])
                    entry["levels"].append(lv)
        if any(lv["completed"] == 0 for lv in entry["levels"]):
            entry.update(status="failed", reason="a level had no successful request: "
                         + "; ".join(e for lv in entry["levels"] for e in lv["errors"])[:400])
    except Exception as e:  # one backend failing must not stop the others; recorded with its reason
        log.exception("%s failed", target.id)
        entry.update(status="failed", reason=f"{type(e).__name__}: {str(e)[:600]}")
    finally:
        rc = srv.stop()
        entry.update(srv.info())
        entry["exit_status"] = rc
        entry["load_avg_1m_at_end"] = _load()
        entry["duration_s"] = round(time.monotonic() - t0, 1)
    return entry


def add_cost(task: str, entry: dict[str, Any], prices: Prices) -> None:
    """``entry["cost"]``: USD per 1M output tokens (chat) / 1M embeddings (embeddings, batch 32 or the largest
    batch) at the level with the highest throughput, on the ``prices`` instance."""
    if entry["status"] != "ok" or not entry["levels"]:
        return
    clean = [lv for lv in entry["levels"] if not lv["failed"]]  # a level with failures is not a throughput
    if not clean:
        return
    if task == "chat":
        best = max(clean, key=lambda lv: lv["output_tokens_per_s"] or 0)
        rate, unit = best["output_tokens_per_s"], "output tokens"
    else:
        big = max(lv["batch"] for lv in clean)
        best = max((lv for lv in clean if lv["batch"] == big), key=lambda lv: lv["embeddings_per_s"] or 0)
        rate, unit = best["embeddings_per_s"], "embeddings"
    entry["cost"] = {"usd_per_million": sig(stats.cost_per_million(prices.usd_per_hour, rate or 0)),
                     "unit": unit, "units_per_s": rate, "at_concurrency": best["concurrency"],
                     "batch": best.get("batch"), "instance": prices.instance, "usd_per_hour": prices.usd_per_hour,
                     "as_of": prices.as_of}


def _level(entry: dict[str, Any], c: int, batch: int | None = None) -> dict[str, Any] | None:
    for lv in entry["levels"]:
        if lv["concurrency"] == c and lv.get("batch") == batch:
            return lv
    return None


def ratios(task: str, backends: list[dict[str, Any]], wl: Workload) -> list[dict[str, Any]]:
    """The comparisons stated in words on the page, computed here (numbers rounded as the page shows them)."""
    ok = [b for b in backends if b["status"] == "ok"]
    out: list[dict[str, Any]] = []
    if len(ok) < 2:
        return out

    def compare(rid: str, what: str, key: str, c: int, batch: int | None, unit: str, higher: bool = True,
                pct: str | None = None) -> None:
        vals, dropped = [], []
        for b in ok:
            lv = _level(b, c, batch)
            if lv and lv["failed"]:  # not comparable: say so instead of ranking it
                dropped.append(f"{b['label']} left out: {lv['failed']} of {lv['requests']} requests failed")
                continue
            v = (lv or {}).get(key) if pct is None else ((lv or {}).get(key) or {}).get(pct)
            if v:
                vals.append((v, b))
        if len(vals) < 2:
            return
        vals.sort(key=lambda x: x[0], reverse=higher)
        (bv, best), rest = vals[0], vals[1:]
        parts = [f"{num(ov)} {unit} for {o['label']}, ratio {num(sig(bv / ov if higher else ov / bv, 3))}"
                 for ov, o in rest]
        cond = (f"{wl.input_words} random words in, {wl.output_tokens} tokens out" if task == "chat"
                else f"sentences of {wl.sentence_words} random words")
        text = f"{what} at concurrency {c}" + (f", batch {batch}" if batch else "") + f" ({cond})" + \
            f": {best['label']} with {num(bv)} {unit} (vs " + "; ".join(parts) + ")" + \
            ("".join(f"; {d}" for d in dropped))
        out.append({"id": rid, "text": text, "best": best["id"], "value": bv,
                    "values": {o["id"]: ov for ov, o in vals},
                    "factors": {o["id"]: sig(bv / ov if higher else ov / bv, 3) for ov, o in rest}})

    if task == "chat":
        cmax, cmin = max(wl.chat_levels), min(wl.chat_levels)
        compare("chat-throughput-max", "Highest output tokens/s", "output_tokens_per_s", cmax, None, "tokens/s")
        compare("chat-throughput-1", "Highest output tokens/s", "output_tokens_per_s", cmin, None, "tokens/s")
        compare("chat-ttft-1", "Lowest median TTFT", "ttft", cmin, None, "ms", higher=False, pct="p50_ms")
    else:
        cmax, bmax, bmin = max(wl.embed_levels), max(wl.embed_batches), min(wl.embed_batches)
        compare("embed-throughput-batch", "Highest embeddings/s", "embeddings_per_s", cmax, bmax, "embeddings/s")
        compare("embed-throughput-single", "Highest embeddings/s", "embeddings_per_s", cmax, bmin, "embeddings/s")
        compare("embed-latency-1", "Lowest median latency", "e2e", min(wl.embed_levels), bmin, "ms",
                higher=False, pct="p50_ms")
    return out


def run_task(task: str, targets: list[Target], wl: Workload, prices: Prices, out_dir: Path, smoke: bool,
             load_at_start: float) -> dict[str, Any]:
    """All ``targets`` of ``task`` one after another; writes ``out_dir/<task>.json`` and its figure."""
    from . import plots

    bias = None
    if task == "chat" and any(t.extras.eog_logit_bias for t in targets):
        bias = eog_logit_bias()
    res: dict[str, Any] = {
        "schema": 1, "kind": "cross-backend", "task": task, "smoke": smoke,
        "title": f"Cross-backend {task} benchmark (one load generator, one workload, one server at a time)",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_revision": prov.git_revision(REPO), "python": platform.python_version(),
        "runner_versions": prov.installed_versions(["httpx", "aiohttp", "numpy", "psutil", "matplotlib", "pydantic"]),
        "workload": wl.model_dump(), "prices": prices.model_dump(), "eog_tokens_banned": len(bias or {}),
        "backends": [],
    }
    t0 = time.monotonic()
    for t in targets:
        e = run_backend(task, t, wl, bias, quiet=not smoke)
        add_cost(task, e, prices)
        res["backends"].append(e)
        log.info("%s: %s %s", t.id, e["status"], e.get("reason") or "")
    res["duration_s"] = round(time.monotonic() - t0, 1)
    res["hardware"] = {**prov.hardware(), "load_avg_1m_at_start": load_at_start}
    res["ratios"] = ratios(task, res["backends"], wl)
    out_dir.mkdir(parents=True, exist_ok=True)
    res["plots"] = [plots.plot_task(res, out_dir)]
    (out_dir / f"{task}.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s", out_dir / f"{task}.json")
    return res
