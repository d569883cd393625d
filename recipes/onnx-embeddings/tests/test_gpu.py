"""GPU path: the execution provider is a setting. Runs only where onnxruntime-gpu sees a CUDA device."""

import numpy as np
import onnxruntime as ort
import pytest

from .conftest import SENTENCES, cosine_rows

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="CUDAExecutionProvider not available: install onnxruntime-gpu (instead "
                    "of onnxruntime) on a machine with an NVIDIA GPU (CUDA 13 driver)")
def test_cuda_matches_cpu(onnx_paths, model_dir, reference):
    from onnx_embeddings.model import Embedder

    gpu = Embedder(onnx_paths["fp32"], model_dir, provider="CUDAExecutionProvider")
    assert gpu.session.get_providers()[0] == "CUDAExecutionProvider"
    out = gpu.embed(SENTENCES)
    assert cosine_rows(out, reference).min() >= 0.9999
    batch = gpu.embed(SENTENCES, batch_size=8)
    alone = np.concatenate([gpu.embed([s]) for s in SENTENCES])
    assert cosine_rows(batch, alone).min() >= 0.9999


def test_missing_provider_is_a_clear_error(onnx_paths, model_dir):
    if HAS_CUDA:
        pytest.skip("CUDA is available here")
    from onnx_embeddings.model import Embedder

    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        Embedder(onnx_paths["fp32"], model_dir, provider="CUDAExecutionProvider")
