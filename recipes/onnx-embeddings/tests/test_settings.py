"""Settings come from ONNX_EMB_* environment variables."""

from onnx_embeddings.settings import Settings


def test_env_vars(monkeypatch, tmp_path):
    monkeypatch.setenv("ONNX_EMB_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("ONNX_EMB_PRECISION", "int8")
    monkeypatch.setenv("ONNX_EMB_ONNX_DIR", str(tmp_path))
    monkeypatch.setenv("ONNX_EMB_MAX_BATCH_SIZE", "8")
    s = Settings()
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.resolved_onnx_path() == tmp_path / "model.int8.onnx"
    assert s.max_batch_size == 8
    assert s.execution_provider == "CPUExecutionProvider"


def test_defaults():
    s = Settings()
    assert s.cors_origins == [] and s.api_key is None and s.precision == "fp32"
    assert (s.resolved_model_dir() / "tokenizer.json").exists()
