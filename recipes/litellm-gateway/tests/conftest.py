"""Fixtures: real llama.cpp servers (the llama.cpp recipe's own venv), the real LiteLLM proxy started by
``python -m litellm_gateway`` on 127.0.0.1, the official ``openai`` client. No mocks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from litellm_gateway.launcher import RECIPE, QUIET_ENV, Backend, GatewayProcess

MODEL = "smollm2-135m-instruct"
MASTER = "sk-test-master-0123456789"
BACKEND_DIR = (RECIPE / "../llamacpp-server").resolve()

os.environ.update(QUIET_ENV)


def need_backend() -> None:
    """Skip (saying why) when the llama.cpp recipe's venv is not there."""
    if not (BACKEND_DIR / ".venv" / "bin" / "python").exists():
        pytest.skip(f"the llama.cpp recipe is not installed ({BACKEND_DIR}/.venv missing): "
                    "run `make -C ../llamacpp-server venv`")


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers (a hung upstream).

    ``connections`` counts accepted connections: one per attempt LiteLLM makes.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.connections = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(conn)

    def close(self) -> None:
        for c in self.held:
            c.close()
        self.sock.close()


def make_test_config(tmp: Path, blackhole_url: str) -> Path:
    """config.yaml plus one test-only model group, ``hung`` (a black-hole upstream, 2 s timeout per attempt),
    written to ``tmp``."""
    cfg = yaml.safe_load((RECIPE / "config.yaml").read_text())
    cfg["model_list"] += [
        {"model_name": "hung",
         "litellm_params": {"model": "openai/smollm2-135m-instruct", "api_base": blackhole_url, "api_key": "none",
                            "timeout": 2, "stream_timeout": 2, "max_retries": 0}},
    ]
    path = tmp / "config.test.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def blackhole():
    bh = BlackHole()
    yield bh
    bh.close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory, blackhole):
    """The shared gateway: master key, primary + fallback llama.cpp servers started by the launcher."""
    need_backend()
    cfg = make_test_config(tmp_path_factory.mktemp("cfg"), blackhole.url)
    gw = GatewayProcess(LITELLM_GW_API_KEY=MASTER, LITELLM_GW_START_BACKEND="2", LITELLM_GW_CONFIG=str(cfg),
                        LITELLM_GW_BACKEND_DIR=str(BACKEND_DIR)).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def client(gateway):
    """Official openai client pointed at the gateway with the master key (no client-side retries)."""
    from openai import OpenAI

    return OpenAI(base_url=gateway.url + "/v1", api_key=MASTER, timeout=120, max_retries=0)


@pytest.fixture
def backend_pair():
    """Two llama.cpp servers of our own (the fallback test kills one)."""
    need_backend()
    pair = [Backend(BACKEND_DIR, 1, "primary").start(), Backend(BACKEND_DIR, 1, "fallback").start()]
    yield pair
    for b in pair:
        b.stop()


def eog_ban() -> dict[str, float]:
    """``logit_bias`` -100 on SmolLM2's end-of-generation tokens, from the llama.cpp recipe's
    ``python -m llamacpp_server.eog`` in its venv (vocabulary only): a generation then runs to ``max_tokens``."""
    out = subprocess.run([str(BACKEND_DIR / ".venv/bin/python"), "-m", "llamacpp_server.eog"], cwd=BACKEND_DIR,
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])
