"""The code shown on the page (examples/*) runs against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import API_KEY
from vllm_recipe.launcher import RECIPE

pytestmark = pytest.mark.slow
EXAMPLES = RECIPE / "examples"


def run(cmd: list, base_url: str, timeout: int = 180) -> str:
    env = {**os.environ, "VLLM_RECIPE_BASE_URL": base_url, "VLLM_RECIPE_API_KEY": API_KEY}
    proc = subprocess.run(cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_curl_example(base_url):
    out = run(["bash", str(EXAMPLES / "curl.sh")], base_url)
    first_line, rest = out.split("\n", 1)
    reply = json.loads(first_line)
    assert reply["choices"][0]["message"]["content"].strip()
    assert "data: [DONE]" in rest and rest.count("data: {") >= 2


def test_openai_client_example(base_url):
    out = run([sys.executable, str(EXAMPLES / "client.py")], base_url).strip().splitlines()
    assert any("CompletionUsage" in line for line in out)
    place = eval(out[-1], {})  # the printed dict from the JSON-schema call
    assert set(place) == {"city", "country"}


def test_langchain_example(base_url):
    assert run([sys.executable, str(EXAMPLES / "langchain_client.py")], base_url).strip()
