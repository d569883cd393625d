"""Shared fixtures: the real model, its ONNX export, the PyTorch reference and live servers.

Servers are real: ``python -m onnx_embeddings`` in a subprocess on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

RECIPE = Path(__file__).resolve().parent.parent
MODELS = RECIPE / "models"

from onnx_embeddings.parity import PARITY_SENTENCES as SENTENCES, cosine_rows, reference_embeddings  # noqa: E402,F401 (re-exported to tests)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from onnx_embeddings.settings import Settings

    return Settings().resolved_model_dir()


@pytest.fixture(scope="session")
def onnx_paths(model_dir) -> dict[str, Path]:
    """Export fp32 + int8 into models/ once (skipped when up to date)."""
    from onnx_embeddings.export import export_all

    return export_all(model_dir, MODELS)


@pytest.fixture(scope="session")
def reference(model_dir) -> np.ndarray:
    """PyTorch reference: sentence-transformers' own embeddings of SENTENCES, float32 [8, 384]."""
    return reference_embeddings(model_dir, SENTENCES)


@pytest.fixture(scope="session")
def embedder(onnx_paths, model_dir):
    from onnx_embeddings.model import Embedder

    return Embedder(onnx_paths["fp32"], model_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``python -m onnx_embeddings`` subprocess."""

    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@retry(stop=stop_after_delay(120), wait=wait_fixed(0.2), retry=retry_if_exception_type((httpx.HTTPError, AssertionError)),
       reraise=True)
def wait_ready(url: str, proc: subprocess.Popen) -> None:
    """Poll /readyz until 200 (tenacity), failing fast if the process died."""
    if proc.poll() is not None:
        pytest.fail(f"server exited with status {proc.returncode} before becoming ready")
    r = httpx.get(url + "/readyz", timeout=2)
    assert r.status_code == 200, r.text


@contextmanager
def run_server(tmp_path: Path, **env: str):
    """Start a real server with extra ``ONNX_EMB_*`` settings; yield a ``Server``; SIGTERM it at the end."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    full_env = {**os.environ, "ONNX_EMB_PORT": str(port), "ONNX_EMB_HOST": "127.0.0.1",
                "ONNX_EMB_ONNX_DIR": str(MODELS), "ONNX_EMB_DRAIN_SECONDS": "0.2", **env}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "onnx_embeddings"], cwd=RECIPE, env=full_env,
                                stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield Server(proc, url, log)
    except BaseException:
        print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def server(onnx_paths, tmp_path_factory):
    """The default server (fp32, CPU), shared by most HTTP tests."""
    with run_server(tmp_path_factory.mktemp("srv")) as s:
        yield s


@pytest.fixture(scope="session")
def url(server) -> str:
    return server.url
