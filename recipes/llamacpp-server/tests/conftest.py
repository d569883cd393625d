"""Fixtures: real servers (``python -m llamacpp_server`` subprocesses on 127.0.0.1, free ports),
real models from PyPI, the official ``openai`` client and httpx."""

from __future__ import annotations

import os
import httpx
import pytest

from llamacpp_server.launcher import RECIPE, ServerProcess, free_port  # noqa: F401 - re-exported for tests

SMOL = "smollm2-135m-instruct"
GEMMA = "gemma3-270m"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def server():
    """The shared server: both models, default limits."""
    srv = ServerProcess().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def base_url(server: ServerProcess) -> str:
    return server.url


@pytest.fixture(scope="session")
def client(base_url: str):
    """Official openai client pointed at the server."""
    from openai import OpenAI

    return OpenAI(base_url=base_url + "/v1", api_key="unused", timeout=120, max_retries=0)


@pytest.fixture(scope="session")
def http(base_url: str):
    with httpx.Client(base_url=base_url, timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def tokenizers() -> dict[str, object]:
    """Vocabulary-only llama.cpp models (the same GGUFs the server loads) for counting tokens."""
    from llama_cpp import Llama

    from llamacpp_server.models import gemma3_path, smollm2_path

    return {SMOL: Llama(model_path=str(smollm2_path()), vocab_only=True, verbose=False),
            GEMMA: Llama(model_path=str(gemma3_path()), vocab_only=True, verbose=False)}


@pytest.fixture(scope="session")
def eog_ban(tokenizers) -> dict[str, float]:
    """logit_bias banning SmolLM2's end-of-generation tokens: generation runs to max_tokens."""
    from llamacpp_server.models import eog_logit_bias

    return eog_logit_bias(tokenizers[SMOL])


def sse_events(response: httpx.Response) -> list:
    """``data:`` payloads of an SSE response, in order (``[DONE]`` kept as the string)."""
    import json

    out = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def gauge(metrics_text: str, name: str) -> float:
    """Value of an unlabelled Prometheus gauge in a ``/metrics`` text (KeyError if absent)."""
    for line in metrics_text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)
