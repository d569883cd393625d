"""The converted model against llama.cpp: the same chat prompts, greedy, on vLLM (converted safetensors)
and on the llama.cpp recipe's server (the original Q4_1 GGUF, started by its own ``make serve``).

The summary is printed (``pytest -s``) and recorded in the bench results. Pass criteria: every prompt
renders to the same number of tokens on both (the chat template survived the conversion), and most
first generated tokens agree (greedy paths part at the first near-tie; vllm_recipe/agreement.py says why).
"""

from __future__ import annotations

import json
import logging

import pytest

from conftest import API_KEY, MODEL
from vllm_recipe import agreement
from vllm_recipe.launcher import LLAMACPP_RECIPE, LlamaCppServer

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def llamacpp():
    if not (LLAMACPP_RECIPE / "Makefile").is_file():
        pytest.skip(f"the llama.cpp recipe is not next to this one ({LLAMACPP_RECIPE} missing)")
    if not (LLAMACPP_RECIPE / ".venv" / ".installed").is_file():
        pytest.skip("the llama.cpp recipe's venv is not built (run `make -C ../llamacpp-server venv`; it compiles "
                    "llama-cpp-python for several minutes, too long to do inside this test)")
    srv = LlamaCppServer(threads=1).start(timeout_s=180)
    yield srv
    srv.stop()


def test_greedy_output_agrees_with_llamacpp(base_url, llamacpp, tokenizer, capsys):
    res = agreement.run(base_url, MODEL, llamacpp.url, "smollm2-135m-instruct",
                        lambda t: tokenizer.encode(t, add_special_tokens=False), max_tokens=16, key_a=API_KEY)
    summary = {k: v for k, v in res.items() if k != "rows"}
    with capsys.disabled():
        print("\nagreement vLLM vs llama.cpp:", json.dumps(summary))
    assert res["prompt_tokens_equal"], res["rows"]
    assert res["first_token_agree"] >= res["prompts"] // 2, res["rows"]
