"""GPU offload (n_gpu_layers). Runs only with an NVIDIA GPU and a CUDA build of llama-cpp-python."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _gpu_reason() -> str | None:
    import llama_cpp

    if shutil.which("nvidia-smi") is None or subprocess.run(["nvidia-smi"], capture_output=True).returncode != 0:
        return "no NVIDIA GPU visible (nvidia-smi missing or failing)"
    if not llama_cpp.llama_supports_gpu_offload():
        return 'llama-cpp-python was built without GPU offload; reinstall with CMAKE_ARGS="-DGGML_CUDA=on"'
    return None


@pytest.mark.gpu
def test_full_offload_generates_same_answer_quality():
    reason = _gpu_reason()
    if reason:
        pytest.skip(reason)
    from llama_cpp import Llama

    from llamacpp_server.models import smollm2_path

    llm = Llama(model_path=str(smollm2_path()), n_gpu_layers=-1, n_ctx=512, verbose=True)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
                                     max_tokens=24, temperature=0)
    assert "paris" in out["choices"][0]["message"]["content"].lower()
