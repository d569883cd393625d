"""The code shown on the page (examples/*) runs against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import RECIPE

EXAMPLES = RECIPE / "examples"


def run(cmd: list, base_url: str, timeout: int = 180) -> str:
    env = {**os.environ, "LLAMACPP_BASE_URL": base_url}
    proc = subprocess.run(cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_curl_example(base_url):
    out = run(["bash", str(EXAMPLES / "curl.sh")], base_url)
    first_line, rest = out.split("\n", 1)
    reply = json.loads(first_line)
    assert "paris" in reply["choices"][0]["message"]["content"].lower()
    assert "data: [DONE]" in rest and rest.count("data: {") >= 2


def test_openai_client_example(base_url):
    out = run([sys.executable, str(EXAMPLES / "client.py")], base_url)
    assert out.lower().count("paris") >= 2  # plain answer and streamed answer
    assert "CompletionUsage" in out


def test_json_output_example(base_url):
    out = run([sys.executable, str(EXAMPLES / "json_output.py")], base_url).strip().splitlines()
    place = eval(out[0], {})  # printed dict
    assert set(place) == {"city", "country"}
    assert out[1] in ("yes", "no")


def test_langchain_example(base_url):
    out = run([sys.executable, str(EXAMPLES / "langchain_client.py")], base_url).strip().splitlines()
    assert "paris" in out[0].lower()
    assert out[-1] == out[0]  # streamed text equals the invoked text (temperature 0)
