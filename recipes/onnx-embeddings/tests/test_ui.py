"""The front-end page, driven by a real headless Chromium against a real server.

The page's script reads ``?a=…&b=…&auto=1``, calls ``POST /v1/embeddings`` with ``fetch`` and writes the
cosine similarity into ``#result``; Chromium's ``--dump-dom`` prints the DOM after the page settles
(``--virtual-time-budget`` waits for the network call).
"""

import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import httpx
import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium); "
                                "CI installs it")


def render(url: str, a: str, b: str) -> str:
    q = urllib.parse.urlencode({"a": a, "b": b, "auto": "1"})
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", f"{url}/?{q}"],
            capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def similarity(url: str, a: str, b: str) -> float:
    dom = render(url, a, b)
    m = re.search(r'id="result"[^>]*data-similarity="([-0-9.]+)"', dom)
    assert m, "no similarity in the page:\n" + dom[-1500:]
    return float(m.group(1))


def test_page_computes_similarity_through_the_api(url):
    a, b, c = "A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply."
    close, far = similarity(url, a, b), similarity(url, a, c)
    assert close > far
    r = httpx.post(url + "/v1/embeddings", json={"input": [a, b]}).json()
    u, v = (np.array(d["embedding"]) for d in r["data"])
    assert close == pytest.approx(float(u @ v), abs=1e-4)  # the page shows what the API computes


def test_page_shows_api_errors(url):
    dom = render(url, "word " * 300, "short")
    assert re.search(r'class="error"[^>]*>error: input\[0\] has \d+ tokens', dom), dom[-1500:]
