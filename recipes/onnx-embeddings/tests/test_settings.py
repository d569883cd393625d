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


def test_drain_and_logging_settings(monkeypatch):
    """The cookbook's names and defaults (CONTRIBUTING.md, "Server conventions"): seconds carry the _s suffix."""
    s = Settings()
    assert (s.drain_delay_s, s.drain_timeout_s, s.log_level, s.host) == (2.0, 30.0, "info", "127.0.0.1")
    monkeypatch.setenv("ONNX_EMB_DRAIN_DELAY_S", "0.5")
    monkeypatch.setenv("ONNX_EMB_DRAIN_TIMEOUT_S", "7")
    monkeypatch.setenv("ONNX_EMB_API_KEY", "sk-s3cret-xyz")
    s = Settings()
    assert (s.drain_delay_s, s.drain_timeout_s, s.api_key.get_secret_value()) == (0.5, 7.0, "sk-s3cret-xyz")
    assert "sk-s3cret-xyz" not in repr(s)  # SecretStr: the key never shows in logs or reprs
