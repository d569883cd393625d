"""The chat page in a real headless Chromium, streaming a reply from a real Ollama through the keyed proxy.

The page reads ``?q=...&auto=1`` (and the key from the URL fragment), posts to ``/api/chat``, appends each streamed
chunk to ``#answer`` and sets ``data-done="true"`` at the end; ``--dump-dom`` prints the DOM once the page settles.
The streaming test skips without Ollama (the reason says which); the error paths need only Chromium, since the
proxy answers them before it contacts Ollama.
"""

import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from ollama_local import launcher

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
KEY = "ui-key-456"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")


def render(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=60000", "--dump-dom", url],
            capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.ollama
def test_page_streams_a_reply(ollama_url, webapp_factory):
    app = webapp_factory(CHATAPP_API_KEY=KEY, CHATAPP_OLLAMA_URL=ollama_url, CHATAPP_DEFAULT_PREDICT="24")
    q = urllib.parse.urlencode({"q": "Name three fruits.", "auto": "1"})
    dom = render(f"{app.url}/?{q}#key={KEY}")
    m = re.search(r'<p id="answer" data-done="true" data-chunks="(\d+)">([^<]+)</p>', dom)
    assert m, dom[-2000:]
    assert int(m.group(1)) >= 2 and m.group(2).strip()  # streamed in several chunks


def test_page_shows_the_key_error(webapp_factory):
    # the key is checked before Ollama is contacted: no Ollama needed (nothing listens at CHATAPP_OLLAMA_URL)
    app = webapp_factory(CHATAPP_API_KEY=KEY, CHATAPP_OLLAMA_URL=f"http://127.0.0.1:{launcher.free_port()}")
    dom = render(f"{app.url}/?q=hi&auto=1#key=wrong")
    assert 'class="error">error: invalid api key<' in dom, dom[-1500:]
    assert 'data-done="error"' in dom


def test_page_shows_that_ollama_is_down(webapp_factory):
    app = webapp_factory(CHATAPP_API_KEY=KEY, CHATAPP_OLLAMA_URL=f"http://127.0.0.1:{launcher.free_port()}")
    dom = render(f"{app.url}/?q=hi&auto=1#key={KEY}")
    assert 'class="error">error: ollama is not reachable<' in dom, dom[-1500:]
    assert '<p class="user">hi</p>' in dom
