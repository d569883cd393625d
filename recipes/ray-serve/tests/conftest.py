"""One real local Ray cluster for the whole session (head + worker, `python -m ray_serve_recipe` exactly as
`make serve` runs it), on a free 127.0.0.1 port, with an API key and one CORS origin. Starting a cluster costs
~40-90 s on 2 cores, so every server test shares it; the drain test (test_zz_drain.py) stops it last."""

import json
import os
import tempfile
from pathlib import Path

import httpx
import pytest

from ray_serve_recipe.launcher import launched

API_KEY = "sk-test-ray-0123456789"
ORIGIN = "http://allowed.example"
SETTINGS = {"API_KEY": API_KEY, "CORS_ORIGINS": ORIGIN, "MAX_TOKENS_LIMIT": "32", "DEFAULT_MAX_TOKENS": "8",
            "MAX_INPUTS": "64", "MAX_BODY_BYTES": "262144", "DRAIN_DELAY_S": "1.0", "DRAIN_TIMEOUT_S": "60",
            "N_CTX": "512"}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


class Server:
    """The running recipe: ``url``, ``proc`` (the launcher process), ``state`` (cluster addresses, node PIDs)."""

    def __init__(self, url, proc, state):
        self.url, self.proc, self.state = url, proc, state

    def client(self, key: bool = True, **kw) -> httpx.Client:
        """httpx client on the server, with the bearer key unless ``key=False``."""
        headers = {"Authorization": f"Bearer {API_KEY}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 60), **kw)


@pytest.fixture(scope="session")
def server():
    state_file = Path(tempfile.mkstemp(prefix="rsr-test-state-", suffix=".json")[1])
    with launched(timeout_s=300, STATE_FILE=str(state_file), **SETTINGS) as (url, proc):
        yield Server(url, proc, json.loads(state_file.read_text()))
    state_file.unlink(missing_ok=True)


@pytest.fixture
def http(server):
    with server.client() as c:
        yield c
