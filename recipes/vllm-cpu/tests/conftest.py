"""Fixtures: one real vLLM server per test session (``python -m vllm_recipe`` on a free 127.0.0.1 port,
SmolLM2 converted by ``make model``, an API key set), the official ``openai`` client and httpx.

vLLM on CPU needs 1-4 minutes to start on 2 cores (torch.compile warm-up at every start),
so the server is session-scoped and prompts are short. ``test_zz_shutdown.py`` sends it SIGTERM and
therefore runs last (pytest runs files in name order).
"""

from __future__ import annotations

import json
import os

import httpx
import pytest

from vllm_recipe.launcher import ServerProcess
from vllm_recipe.settings import DEFAULT_MODEL_DIR

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODEL = "smollm2-135m-instruct"
API_KEY = "test-key-123"
#: Small limits for the shared server (recipe.yaml serve.env uses the same spirit).
SERVER_SETTINGS = {"API_KEY": API_KEY, "MAX_MODEL_LEN": "1024", "MAX_NUM_SEQS": "8", "DRAIN_TIMEOUT_S": "60"}


@pytest.fixture(scope="session")
def server():
    """The shared vLLM server; skips the slow tests with a reason if the model was not converted."""
    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        pytest.skip("converted model missing: run `make model` (make test does)")
    srv = ServerProcess(**SERVER_SETTINGS).start(timeout_s=420)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.url


@pytest.fixture(scope="session")
def client(base_url):
    """Official openai client pointed at the server."""
    from openai import OpenAI

    return OpenAI(base_url=base_url + "/v1", api_key=API_KEY, timeout=120, max_retries=0)


@pytest.fixture(scope="session")
def http(base_url):
    """httpx client with the bearer key."""
    with httpx.Client(base_url=base_url, timeout=120, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        yield c


@pytest.fixture(scope="session")
def tokenizer():
    """The converted model's tokenizer (transformers), for counting tokens independently of the server."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(DEFAULT_MODEL_DIR))


def sse_events(response: httpx.Response) -> list:
    """``data:`` payloads of an SSE response, in order (``[DONE]`` kept as the string)."""
    out = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def metric(text: str, name: str) -> float:
    """Value of the first Prometheus sample named ``name`` in ``text`` (exposition format); KeyError if absent."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)
