"""The cross-backend benchmark runner (benchmarks/) and its page (cookbook/benchpage.py), without servers.

Statistics on hand-made timing lists, the cost formula, the target list, and the page: every number in the
rendered prose and tables must appear in the results it was rendered from (the committed ones when they
exist, and always a hand-made results file run through the runner's own aggregation).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from benchmarks import config, loadgen, plots, runner, stats
from cookbook import benchpage

REPO = Path(__file__).resolve().parents[1]
NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
ANY_NUM = re.compile(r"\d+(?:\.\d+)?")


# --- statistics -------------------------------------------------------------------------------------------

def test_percentiles_below_100_samples_report_max_not_p99():
    p = stats.percentiles([0.001 * i for i in range(1, 11)])  # 1..10 ms
    assert p == {"n": 10, "p50_ms": 5.5, "p90_ms": 9.1, "mean_ms": 5.5, "max_ms": 10.0}
    assert "p99_ms" not in p


def test_percentiles_from_100_samples_report_p99():
    p = stats.percentiles([0.001 * i for i in range(1, 101)])  # 1..100 ms
    assert p["n"] == 100 and p["p50_ms"] == 50.5 and p["p90_ms"] == 90.1 and p["p99_ms"] == 99.01
    assert "max_ms" not in p
    assert stats.percentiles([]) is None


def test_tpot_formula():
    assert stats.tpot_s(e2e_s=1.0, ttft_s=0.2, output_tokens=5) == pytest.approx(0.2)  # 0.8 s / 4 gaps
    assert stats.tpot_s(1.0, 0.2, 1) is None
    with pytest.raises(ValueError):
        stats.tpot_s(0.1, 0.2, 5)


def test_itl_is_the_gaps_between_chunks():
    assert stats.itl_s([0.1, 0.15, 0.3]) == pytest.approx([0.05, 0.15])
    assert stats.itl_s([0.1]) == []


def test_summarize_chat_on_hand_made_records():
    recs = [
        {"ok": True, "e2e_s": 1.0, "ttft_s": 0.2, "chunk_times_s": [0.2, 0.4, 0.6, 0.8, 1.0], "output_tokens": 5,
         "prompt_tokens": 20, "token_source": "usage"},
        {"ok": True, "e2e_s": 2.0, "ttft_s": 0.5, "chunk_times_s": [0.5, 1.0, 2.0], "output_tokens": 4,
         "prompt_tokens": None, "token_source": "chunks"},
        {"ok": False, "error": "HTTP 429: busy"},
    ]
    s = stats.summarize_chat(recs, wall_s=2.5)
    assert (s["requests"], s["completed"], s["failed"], s["errors"]) == (3, 2, 1, ["HTTP 429: busy"])
    assert s["output_tokens"] == 9 and s["output_tokens_per_s"] == 3.6 and s["requests_per_s"] == 0.8
    assert s["tpot"]["n"] == 2 and s["tpot"]["max_ms"] == 500.0  # (2.0-0.5)/3 = 0.5 s; (1.0-0.2)/4 = 0.2 s
    assert s["itl"]["n"] == 6 and s["itl"]["max_ms"] == 1000.0
    assert s["ttft"]["p50_ms"] == 350.0 and s["mean_prompt_tokens"] == 20 and s["token_source"] == ["chunks", "usage"]


def test_cost_formula():
    # 0.08925 USD/h at 100 tokens/s: 360,000 tokens per hour -> 0.2479 USD per 1M
    assert stats.cost_per_million(0.08925, 100.0) == pytest.approx(0.08925 / 360_000 * 1e6)
    assert stats.cost_per_million(0.08925, 100.0) == pytest.approx(0.247917, rel=1e-4)
    assert stats.cost_per_million(1.0, 0) is None


def test_prices_file_matches_the_ray_serve_capacity_plan():
    p = config.load_prices()
    src = (REPO / "recipes/ray-serve/ray_serve_recipe/capacity.py").read_text()
    assert p.instance == "c7i.large" and f'"usd_per_h": {p.usd_per_hour}' in src and p.as_of in src
    assert p.source.startswith("https://")


# --- targets ------------------------------------------------------------------------------------------------

def test_targets_load_and_point_at_real_recipes():
    t = config.load_targets()
    assert [x.id for x in t.chat] == ["llamacpp", "vllm", "ollama", "gateway", "ray"]
    assert [x.id for x in t.embeddings] == ["onnx", "triton", "vllm-embed", "ray-embed"]
    catalog = {e["id"] for e in yaml.safe_load((REPO / "catalog/backends.yaml").read_text())["entries"]}
    for x in t.chat + t.embeddings:
        mk = (x.dir / "Makefile").read_text()
        assert re.search(rf"^{re.escape(x.target)}:", mk, re.M), f"{x.id}: no `{x.target}` target in {x.dir}/Makefile"
        assert x.catalog in catalog, x.id
        serve = yaml.safe_load((x.dir / "recipe.yaml").read_text()).get("serve") or {}
        assert serve.get("env_prefix") == x.env_prefix, x.id
        if x.target == "serve" and "ready_path" in serve:
            assert serve["ready_path"] == x.ready_path, x.id


def test_targets_validation_rejects_bad_files(tmp_path):
    good = yaml.safe_load((config.HERE / "targets.yaml").read_text())
    dup = {**good, "chat": good["chat"] + good["chat"][:1]}
    (tmp_path / "dup.yaml").write_text(yaml.safe_dump(dup))
    with pytest.raises(ValueError, match="duplicate"):
        config.load_targets(tmp_path / "dup.yaml")
    bad = {**good, "chat": [{**good["chat"][0], "colour": "red"}]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ValidationError):
        config.load_targets(tmp_path / "bad.yaml")
    worse = {**good, "embeddings": [{**good["embeddings"][0], "api": "grpc"}]}
    (tmp_path / "worse.yaml").write_text(yaml.safe_dump(worse))
    with pytest.raises(ValidationError):
        config.load_targets(tmp_path / "worse.yaml")


def test_smoke_workload_is_tiny_and_full_follows_the_issue():
    full, smoke = config.Workload(), config.Workload.smoke()
    assert full.chat_levels == [1, 2, 4, 8, 16] and full.embed_levels == [1, 8, 32] and full.embed_batches == [1, 32]
    assert full.prompts_per_level == 10
    assert smoke.chat_levels == [1, 2] and smoke.output_tokens == 8


def test_loadgen_sends_only_to_localhost_and_prompts_are_deterministic():
    with pytest.raises(ValueError, match="127.0.0.1"):
        loadgen.run_embed_level("http://example.com:80", "openai-embeddings", "m", 1, 1, 1, ["x"])
    assert loadgen.prompts(3, 5, 0) == loadgen.prompts(3, 5, 0) != loadgen.prompts(3, 5, 1)
    assert all(len(p.split()) == 5 for p in loadgen.prompts(3, 5, 0))
    body = loadgen.chat_body("m", "hi", 8, {"ignore_eos": True})
    assert body["stream"] is True and body["max_tokens"] == 8 and body["ignore_eos"] is True


# --- the page -----------------------------------------------------------------------------------------------

def json_numbers(obj) -> set[float]:
    """Every number in a results file: values, and numbers inside strings and keys."""
    out: set[float] = set()
    if isinstance(obj, bool) or obj is None:
        return out
    if isinstance(obj, (int, float)):
        out.add(abs(float(obj)))
    elif isinstance(obj, str):
        out |= {float(m) for m in ANY_NUM.findall(obj)}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out |= json_numbers(k) | json_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= json_numbers(v)
    return out


def page_numbers(md: str) -> list[str]:
    """Numbers in the page's prose and tables: fenced code (the raw JSON) and the fixed text are left out."""
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    for s in sorted(benchpage.STATIC, key=len, reverse=True):
        md = md.replace(s, "")
    return NUM.findall(md)


def assert_numbers_from_results(md: str, results_dir: Path) -> int:
    known: set[float] = set()
    for f in results_dir.glob("*.json"):
        known |= json_numbers(json.loads(f.read_text()))
    nums = page_numbers(md)
    missing = sorted({n for n in nums if float(n) not in known})
    assert not missing, f"numbers on the page that are not in {results_dir}/*.json: {missing}"
    return len(nums)


def _level_chat(c, tps, ttft):
    recs = [{"ok": True, "e2e_s": ttft + 0.31 * k, "ttft_s": ttft, "chunk_times_s": [ttft + 0.01 * i for i in range(32)],
             "output_tokens": 32, "prompt_tokens": 70, "token_source": "usage"} for k in range(10 * c)]
    return {"concurrency": c, **stats.summarize_chat(recs, wall_s=320 * c / tps), "client_cpu_s": 0.5,
            "client_cpu_share": 0.0123, "client_cpu_pct": 1.2}


def _level_emb(c, b, eps):
    recs = [{"ok": True, "e2e_s": 0.004 * (k + 1), "n": b} for k in range(10 * c)]
    return {"concurrency": c, **stats.summarize_embeddings(recs, wall_s=10 * c * b / eps, batch=b),
            "client_cpu_s": 0.2, "client_cpu_share": 0.031, "client_cpu_pct": 3.1}


def _backend(bid, label, levels, task, prices):
    e = {"id": bid, "label": label, "recipe": "llamacpp-server", "catalog": "llama-cpp", "api": "openai-chat",
         "notes": "hand-made", "status": "ok", "reason": None, "levels": levels, "request_extras": ["logit_bias"],
         "cold_start_s": 2.5, "peak_rss_mib": 512.3, "load_avg_1m_at_start": 0.4, "load_avg_1m_at_end": 0.9,
         "command": "make -C recipes/x serve", "overrides": {"X_PORT": "1234"}, "versions": {"a": "1.0"},
         "model": {"sha256": "ab"}, "model_id": "m", "exit_status": 0}
    runner.add_cost(task, e, prices)
    return e


@pytest.fixture()
def handmade(tmp_path) -> Path:
    """Results as the runner writes them, aggregated by its own code from hand-made request records."""
    return write_handmade(tmp_path)


def write_handmade(tmp_path: Path) -> Path:
    """Write hand-made chat, embeddings and cross-check results into ``tmp_path``; returns it."""
    prices = config.load_prices()
    wl = config.Workload()
    hw = {"cpu": "Test CPU", "logical_cores": 2, "memory_gib": 23.5, "gpu": None, "load_avg_1m_at_start": 0.4,
          "load_avg_1m_at_end": 0.9}
    common = {"schema": 1, "kind": "cross-backend", "smoke": False, "date": "2026-12-01T10:00:00Z",
              "git_revision": "abc1234", "python": "3.11.7", "hardware": hw, "workload": wl.model_dump(),
              "prices": prices.model_dump(), "duration_s": 812.4, "plots": []}
    chat_b = [_backend("llamacpp", "llama.cpp", [_level_chat(c, 55.5, 0.12 * c) for c in wl.chat_levels], "chat", prices),
              _backend("vllm", "vLLM", [_level_chat(c, 40.25 * c, 0.2) for c in wl.chat_levels], "chat", prices),
              {"id": "ollama", "label": "Ollama", "recipe": "ollama-local", "status": "not run", "levels": [],
               "reason": "not run: no ollama binary on this machine", "notes": ""}]
    emb_b = [_backend("onnx", "FastAPI", [_level_emb(c, b, 150.0 * b ** 0.5) for b in wl.embed_batches
                                          for c in wl.embed_levels], "embeddings", prices),
             _backend("triton", "Triton", [_level_emb(c, b, 120.0 * b ** 0.5) for b in wl.embed_batches
                                           for c in wl.embed_levels], "embeddings", prices)]
    chat = {**common, "task": "chat", "backends": chat_b, "ratios": runner.ratios("chat", chat_b, wl)}
    emb = {**common, "task": "embeddings", "backends": emb_b, "ratios": runner.ratios("embeddings", emb_b, wl)}
    cc = {"schema": 1, "kind": "crosscheck", "smoke": False, "date": "2026-12-01T11:00:00Z", "git_revision": "abc1234",
          "python": "3.11.7", "hardware": hw, "workload": wl.model_dump(),
          "checks": [{"task": "chat", "backend": "llamacpp", "label": "llama.cpp", "concurrency": 4, "batch": None,
                      "requests": 40, "runner": {"output_tokens_per_s": 55.1, "client_cpu_pct": 1.1},
                      "vllm_bench": {"output_tokens_per_s": 53.9, "client_cpu_pct": 21.7},
                      "diff_pct": {"output_tokens_per_s": -2.2}, "tolerance_pct": 10.0, "within_10pct": True}]}
    for name, d in (("chat", chat), ("embeddings", emb), ("crosscheck", cc)):
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
    return tmp_path


def test_page_numbers_come_from_handmade_results(handmade):
    md = benchpage.benchmarks_page(handmade)
    assert "Not yet run" not in md and "Smoke results" not in md
    assert "not run: no ollama binary on this machine" in md
    assert "max " in md and "p99" in md  # 10-40 samples per level: max, labelled
    assert ("Highest output tokens/s at concurrency 16 (64 random words in, 32 tokens out): vLLM with 644 tokens/s "
            "(vs 55.5 tokens/s for llama.cpp, ratio 11.6)") in md
    assert "agree within 10 %" in md
    n = assert_numbers_from_results(md, handmade)
    assert n > 100  # the check ran over the tables, not over an empty page
    table = benchpage.decision_table_rows(handmade)
    assert len(table) == len(json.loads((handmade / "chat.json").read_text())["ratios"]) + \
        len(json.loads((handmade / "embeddings.json").read_text())["ratios"])
    assert all("Test CPU, 2 cores, no GPU, 2026-12-01" in r and "(../benchmarks.md)" in r for r in table)
    assert all(r.startswith("| No GPU; ") and r.count(" | ") == 2 for r in table)
    assert "[vLLM](../recipes/llamacpp-server.md): Highest output tokens/s at concurrency 16" in "\n".join(table)
    assert_numbers_from_results("\n".join(table), handmade)
    from cookbook import render
    assert render.decision_guide([], bench_results=handmade).rstrip("\n").endswith(table[-1])


def test_page_numbers_come_from_a_tampered_file_fail(handmade):
    md = benchpage.benchmarks_page(handmade).replace("644 tokens/s", "645.5 tokens/s")
    with pytest.raises(AssertionError, match="645.5"):
        assert_numbers_from_results(md, handmade)


def test_committed_page_numbers_come_from_committed_results():
    results = REPO / "benchmarks" / "results"
    md = benchpage.benchmarks_page(results)
    if not benchpage.load_results(results):
        assert "Not yet run" in md and "make bench-all" in md
        assert benchpage.decision_table_rows(results) == []
        return
    if any(r.get("smoke") for r in benchpage.load_results(results).values()):
        assert "Smoke results: not measurements" in md
    assert_numbers_from_results(md, results)
    assert_numbers_from_results("\n".join(benchpage.decision_table_rows(results)), results)
    for f in benchpage.page_files(results):
        assert f.suffix == ".png" and f.stat().st_size > 10_000


def test_plots_and_a_failed_crosscheck_render(handmade):
    for task in ("chat", "embeddings"):
        name = plots.plot_task(json.loads((handmade / f"{task}.json").read_text()), handmade)
        assert name == f"{task}.png" and (handmade / name).stat().st_size > 10_000
    cc = json.loads((handmade / "crosscheck.json").read_text())
    cc["checks"][0].update(diff_pct={"output_tokens_per_s": -12.5}, within_10pct=False, load_avg_1m_at_start=0.5,
                           load_avg_1m_at_end=1.25)
    (handmade / "crosscheck.json").write_text(json.dumps(cc))
    md = benchpage.benchmarks_page(handmade)
    assert "differ by more than 10 %" in md and "21.7 % for vllm bench serve" in md
    assert_numbers_from_results(md, handmade)


def test_a_level_with_failed_requests_is_left_out_of_ratios_and_cost():
    """A level where the server shed requests (e.g. 503 queue_full) is not a throughput: the comparison names it
    as left out, and the backend's cost comes from its best level without failures."""
    prices, wl = config.load_prices(), config.Workload()
    levels = [_level_emb(c, b, 150.0 * b ** 0.5) for b in wl.embed_batches for c in wl.embed_levels]
    shed = next(lv for lv in levels if lv["concurrency"] == max(wl.embed_levels) and lv["batch"] == max(wl.embed_batches))
    shed.update(failed=296, completed=shed["requests"] - 296, embeddings_per_s=9999.0)
    a = _backend("onnx", "FastAPI", levels, "embeddings", prices)
    b = _backend("triton", "Triton", [_level_emb(c, bt, 120.0 * bt ** 0.5) for bt in wl.embed_batches
                                      for c in wl.embed_levels], "embeddings", prices)
    c = _backend("vllm-embed", "vLLM", [_level_emb(c, bt, 100.0 * bt ** 0.5) for bt in wl.embed_batches
                                        for c in wl.embed_levels], "embeddings", prices)
    r = {x["id"]: x for x in runner.ratios("embeddings", [a, b, c], wl)}["embed-throughput-batch"]
    assert r["best"] == "triton" and set(r["values"]) == {"triton", "vllm-embed"}
    assert "FastAPI left out: 296 of" in r["text"]
    assert a["cost"]["units_per_s"] != 9999.0 and a["cost"]["at_concurrency"] != max(wl.embed_levels)
