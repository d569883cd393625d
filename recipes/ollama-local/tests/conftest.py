"""Fixtures: a real Ollama (or a skip saying why), and the web app as a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from ollama_local import launcher

RECIPE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ollama_url() -> Iterator[str]:
    """Base URL of a real Ollama with smollm2-local and minilm-local created; skips without one."""
    try:
        url, srv = launcher.connect(OLLAMA_NUM_PARALLEL="2", OLLAMA_KEEP_ALIVE="10m")
    except launcher.NoOllama as exc:
        pytest.skip(str(exc))
    try:
        launcher.create_models(url)
        yield url
    finally:
        if srv is not None:
            srv.stop()


@pytest.fixture
def ollama_env(ollama_url, monkeypatch) -> dict:
    """Environment for the examples: OLLAMA_HOST pointing at the test server."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_url)
    return {**os.environ, "OLLAMA_HOST": ollama_url}


WebApp = launcher.WebAppProcess


@pytest.fixture
def webapp_factory():
    """Start web apps with given settings; all are stopped after the test."""
    apps: list[WebApp] = []

    def make(**env: str) -> WebApp:
        app = WebApp(**{"CHATAPP_DRAIN_DELAY_S": "0", **env}).start()
        apps.append(app)
        return app
    yield make
    for a in apps:
        a.stop()
