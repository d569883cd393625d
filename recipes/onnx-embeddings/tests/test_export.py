"""The ONNX export: files, dynamic axes, parity with the PyTorch reference, batch invariance."""

import numpy as np
import onnx

from .conftest import SENTENCES, cosine_rows


def test_files_and_dynamic_axes(onnx_paths):
    for path in onnx_paths.values():
        m = onnx.load(str(path), load_external_data=False)
        for inp in m.graph.input:
            dims = inp.type.tensor_type.shape.dim
            assert [d.dim_param for d in dims] == ["batch", "sequence"], inp.name
        out = m.graph.output[0]
        assert out.name == "sentence_embedding"
        assert out.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert onnx_paths["int8"].stat().st_size < onnx_paths["fp32"].stat().st_size / 2


def test_fp32_parity_with_pytorch(embedder, reference):
    out = embedder.embed(SENTENCES)
    assert out.dtype == np.float32 and out.shape == (len(SENTENCES), 384)
    assert cosine_rows(out, reference).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)  # L2-normalised in the graph


def test_int8_parity_with_pytorch(onnx_paths, model_dir, reference):
    from onnx_embeddings.model import Embedder

    e = Embedder(onnx_paths["int8"], model_dir)
    alone = np.concatenate([e.embed([s]) for s in SENTENCES])
    assert cosine_rows(alone, reference).min() >= 0.99


def test_alone_equals_in_batch(embedder):
    """Padding inside a batch must not change a sentence's embedding (attention mask + masked mean)."""
    batch = embedder.embed(SENTENCES, batch_size=len(SENTENCES))
    alone = np.concatenate([embedder.embed([s]) for s in SENTENCES])
    np.testing.assert_allclose(batch, alone, atol=1e-5)
    assert cosine_rows(batch, alone).min() >= 0.9999


def test_export_is_skipped_when_up_to_date(onnx_paths, model_dir):
    from onnx_embeddings.export import export_all

    before = {k: p.stat().st_mtime_ns for k, p in onnx_paths.items()}
    export_all(model_dir, onnx_paths["fp32"].parent)
    assert {k: p.stat().st_mtime_ns for k, p in onnx_paths.items()} == before


def test_token_limit(embedder):
    import pytest

    assert embedder.max_tokens == 256  # sentence_bert_config.json max_seq_length
    with pytest.raises(ValueError, match="limit is 256"):
        embedder.embed(["word " * 300])
