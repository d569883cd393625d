"""The snippets the page includes run against the real server."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import API_KEY

EX = Path(__file__).resolve().parent.parent / "examples"


def test_openai_client_example(server):
    r = subprocess.run([sys.executable, str(EX / "client.py"), server.url + "/v1"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "RAY_RECIPE_API_KEY": API_KEY})
    assert r.returncode == 0, r.stderr
    assert "embeddings: 2 x 384" in r.stdout and "chat:" in r.stdout


def test_curl_example(server):
    r = subprocess.run(["bash", str(EX / "curl.sh")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "BASE": server.url, "RAY_RECIPE_API_KEY": API_KEY})
    assert r.returncode == 0, r.stderr
    assert '"embedding"' in r.stdout and "chat.completion" in r.stdout
