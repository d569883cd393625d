"""GPU: Ollama offloads the model by itself when it finds one; `/api/ps` reports how much of it is in VRAM."""

import shutil
import subprocess

import httpx
import pytest

from ollama_local import launcher


def _nvidia_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


pytestmark = [pytest.mark.gpu, pytest.mark.ollama,
              pytest.mark.skipif(not _nvidia_gpu(), reason="no NVIDIA GPU (nvidia-smi missing or finds none)")]


def test_model_is_offloaded_to_the_gpu(ollama_url):
    r = httpx.post(ollama_url + "/api/generate", json={"model": launcher.CHAT_MODEL, "prompt": "Hi",
                                                        "stream": False, "options": {"num_predict": 4}}, timeout=120)
    assert r.status_code == 200
    loaded = {m["name"]: m for m in httpx.get(ollama_url + "/api/ps", timeout=30).json()["models"]}
    m = loaded[f"{launcher.CHAT_MODEL}:latest"]
    assert m["size_vram"] > 0 and m["size_vram"] == m["size"]  # all layers on the GPU for a 135M model
