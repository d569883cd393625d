"""The bench's arithmetic (no Ollama needed) and the committed results' honesty about what was measured."""

import json
import re
from pathlib import Path

import pytest

from ollama_local import bench

RECIPE = Path(__file__).resolve().parents[1]


def test_formulas():
    # two requests: TTFT 0.1 s and 0.3 s; 5 and 3 output tokens; chunk gaps as listed
    runs = [{"ttft_s": 0.1, "e2e_s": 0.5, "tokens": 5, "gaps_s": [0.1, 0.1, 0.1, 0.1]},
            {"ttft_s": 0.3, "e2e_s": 0.7, "tokens": 3, "gaps_s": [0.2, 0.2]}]
    s = bench.summarize(runs, wall_s=1.0, cpu_s=0.25)
    assert s["requests"] == 2 and s["output_tokens"] == 8
    assert s["aggregate_tps"] == pytest.approx(8.0)                # all output tokens / wall time
    assert s["client_cpu_share"] == pytest.approx(0.25)
    assert s["ttft_ms_p50"] == pytest.approx(200.0)
    # TPOT = (e2e - TTFT) / (tokens - 1): 0.4/4 = 100 ms and 0.4/2 = 200 ms
    assert s["tpot_ms_p50"] == pytest.approx(150.0) and s["tpot_ms_max"] == pytest.approx(200.0)
    assert s["itl_ms_n"] == 6 and s["itl_ms_max"] == pytest.approx(200.0)
    assert s["ttft_ms_p99"] is None and s["itl_ms_p99"] is None       # fewer than 100 samples: no p99


def test_p99_only_from_100_samples():
    runs = [{"ttft_s": i / 1000, "e2e_s": 1.0, "tokens": 2, "gaps_s": [0.01]} for i in range(1, 101)]
    s = bench.summarize(runs, wall_s=10.0, cpu_s=1.0)
    assert s["ttft_ms_n"] == 100 and s["ttft_ms_p99"] == pytest.approx(99.01, abs=0.01)


def test_single_token_replies_have_no_tpot():
    s = bench.summarize([{"ttft_s": 0.1, "e2e_s": 0.1, "tokens": 1, "gaps_s": []}], wall_s=0.1, cpu_s=0.0)
    assert s["tpot_ms_n"] == 0 and s["tpot_ms_p50"] is None


def test_results_say_what_was_measured():
    doc = json.loads((RECIPE / "results" / "bench.json").read_text())
    tpl, serving = doc["data"]["template_check"], doc["data"]["serving"]
    assert tpl["all_pass"] and tpl["identical_found"] == tpl["identical_expected"]
    if not serving["measured"]:
        assert "not measured" in serving["reason"] and "not verified against a real Ollama" in doc["summary"]
        assert not doc.get("plots")
        # the page then shows no serving numbers: its "Measured results" prose has no number outside code
        # (digits inside names such as jinja2 are not numbers)
        readme = (RECIPE / "README.md").read_text()
        prose = re.search(r"^## Measured results$(.*?)^## ", readme, re.M | re.S).group(1)
        prose = re.sub(r"`[^`]*`|<!--.*?-->", "", prose, flags=re.S)
        numbers = re.findall(r"(?<![A-Za-z0-9_.])\d+(?:[.,]\d+)*(?![A-Za-z0-9_])", prose)
        assert not numbers, numbers
