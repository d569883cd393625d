"""Settings come from LLAMACPP_* environment variables."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from conftest import RECIPE
from llamacpp_server.settings import Settings, auto_threads


def test_env_vars_override_defaults(monkeypatch):
    monkeypatch.setenv("LLAMACPP_N_CTX", "4096")
    monkeypatch.setenv("LLAMACPP_N_THREADS", "3")
    monkeypatch.setenv("LLAMACPP_N_GPU_LAYERS", "-1")
    monkeypatch.setenv("LLAMACPP_MODEL_PATH", "/models/x.gguf")
    monkeypatch.setenv("LLAMACPP_CORS_ORIGINS", "https://example.com, https://b.example")
    monkeypatch.setenv("LLAMACPP_API_KEY", "s3cret")
    monkeypatch.setenv("LLAMACPP_DRAIN_DELAY_S", "2.5")
    s = Settings()
    assert (s.n_ctx, s.threads(), s.n_gpu_layers, s.model_path) == (4096, 3, -1, "/models/x.gguf")
    assert s.cors_origins == ["https://example.com", "https://b.example"]
    assert s.key() == "s3cret" and "s3cret" not in repr(s)  # SecretStr: not in logs or reprs
    assert (s.drain_delay_s, s.drain_timeout_s, s.log_level) == (2.5, 30.0, "info")


def test_settings_module_is_plain_data():
    """settings.py imports no engine and no recipe module but the stdlib-only servekit."""
    import ast

    tree = ast.parse((RECIPE / "llamacpp_server" / "settings.py").read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert mods <= {"__future__", "os", "typing", "pydantic", "pydantic_settings", "servekit"}, mods


def test_bad_env_value_is_an_error(monkeypatch):
    monkeypatch.setenv("LLAMACPP_N_CTX", "lots")
    with pytest.raises(ValidationError):
        Settings()


def test_auto_threads():
    assert auto_threads(1) == 1 and auto_threads(2) == 2 and auto_threads(64) == 8


def test_print_settings_cli():
    out = subprocess.run([sys.executable, "-m", "llamacpp_server", "--print-settings"], cwd=RECIPE,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    data = json.loads(out)
    assert data["model_alias"] == "smollm2-135m-instruct" and data["resolved_threads"] >= 1
