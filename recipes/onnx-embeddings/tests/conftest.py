"""Shared fixtures: the real model, its ONNX export, the PyTorch reference and live servers.

Servers are real: ``python -m onnx_embeddings`` in a subprocess on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

RECIPE = Path(__file__).resolve().parent.parent
MODELS = RECIPE / "models"

from onnx_embeddings.launcher import ServerProcess  # noqa: E402
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


@contextmanager
def run_server(tmp_path: Path, **env: str):
    """Start a real server (``launcher.ServerProcess``) with extra ``ONNX_EMB_*`` settings; yield it; SIGTERM it
    at the end. Prints the server log tail if the block fails."""
    srv = ServerProcess(log_path=tmp_path / "server.log", ONNX_EMB_ONNX_DIR=str(MODELS),
                        ONNX_EMB_DRAIN_DELAY_S="0.2", **env)
    try:
        with srv:
            yield srv
    except BaseException:
        print(srv.logs()[-4000:])
        raise


@pytest.fixture(scope="session")
def server(onnx_paths, tmp_path_factory):
    """The default server (fp32, CPU), shared by most HTTP tests."""
    with run_server(tmp_path_factory.mktemp("srv")) as s:
        yield s


@pytest.fixture(scope="session")
def url(server) -> str:
    return server.url
