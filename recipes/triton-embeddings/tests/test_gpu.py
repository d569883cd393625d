"""GPU path: the image from ../Dockerfile with --model-config-name=gpu (onnxruntime backend, TensorRT EP).

Needs an NVIDIA GPU, Docker with the NVIDIA container toolkit, and the image built
(``docker build -t triton-embeddings .``; name override: TRITON_EMB_GPU_IMAGE). Skips with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from .conftest import SENTENCES, embed_http

IMAGE = os.environ.get("TRITON_EMB_GPU_IMAGE", "triton-embeddings")


def _why_not() -> str | None:
    if shutil.which("nvidia-smi") is None or subprocess.run(["nvidia-smi"], capture_output=True).returncode:
        return "no NVIDIA GPU (nvidia-smi absent or failing)"
    if shutil.which("docker") is None:
        return "no docker CLI: the GPU config runs in NVIDIA's Triton container"
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        return f"image {IMAGE!r} not built (docker build -t {IMAGE} .)"
    return None


@pytest.mark.gpu
def test_gpu_config_matches_the_cpu_server(server):
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    name = f"triton-emb-gpu-{os.getpid()}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--gpus", "all", "--shm-size=1g",
                    "-p", "127.0.0.1:18500:8000", IMAGE, "--model-config-name=gpu"], check=True)
    try:
        import httpx

        deadline = time.monotonic() + 600  # TensorRT builds its engines on first load
        while time.monotonic() < deadline:
            try:
                if httpx.get("http://127.0.0.1:18500/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        gpu = embed_http("127.0.0.1:18500", SENTENCES)
        cpu = embed_http(server.host_port, SENTENCES)
        assert (gpu * cpu).sum(1).min() >= 0.999  # TensorRT FP16 vs CPU fp32
        np.testing.assert_allclose(np.linalg.norm(gpu, axis=1), 1, atol=1e-3)
    finally:
        subprocess.run(["docker", "stop", name], capture_output=True)
