"""The chat web app's own HTTP behaviour, as a real uvicorn process on 127.0.0.1.

Without Ollama these run against a loopback port where nothing listens (the state a laptop is in before
`ollama serve`): probes, key checks, bad input, limits, CORS, drain. The chat itself, streamed through the proxy
from a real Ollama, is at the end and skips without one.
"""

import json
import re
import time

import httpx
import pytest

from conftest import WebApp
from ollama_local import launcher

KEY = "test-key-123"
AUTH = {"authorization": f"Bearer {KEY}"}
LEAK = re.compile(r"Traceback|File \"|/usr/|site-packages|\.py\b|127\.0\.0\.1:\d+")
CHAT = {"messages": [{"role": "user", "content": "Say hi"}], "options": {"num_predict": 8}}


@pytest.fixture(scope="module")
def app():
    """One keyed app for the module; its Ollama URL is a loopback port where nothing listens."""
    a = WebApp(CHATAPP_API_KEY=KEY, CHATAPP_MAX_BODY_BYTES="4096", CHATAPP_DRAIN_DELAY_S="0",
               CHATAPP_OLLAMA_URL=f"http://127.0.0.1:{launcher.free_port()}").start()
    yield a
    a.stop()


def _is_ollama_error(r: httpx.Response) -> dict:
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    assert not LEAK.search(r.text), r.text
    return body


def test_probes_without_ollama(app):
    r = httpx.get(app.url + "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = httpx.get(app.url + "/readyz")
    assert r.status_code == 503 and r.headers["retry-after"]
    assert r.json() == {"status": "failed", "models": [], "detail": "Ollama is not reachable"}
    r = httpx.get(app.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "chatapp_in_flight_chats" in r.text


def test_page_is_served(app):
    r = httpx.get(app.url + "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'fetch("/api/chat"' in r.text and "getReader()" in r.text


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": KEY}])
def test_key_required(app, headers):
    r = httpx.post(app.url + "/api/chat", json=CHAT, headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    _is_ollama_error(r)


@pytest.mark.parametrize("content, status, message", [
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe\x00", 400, "not valid JSON"),
    (json.dumps({"messages": "hi"}).encode(), 422, "messages"),
    (json.dumps({"messages": []}).encode(), 422, "messages"),
    (json.dumps({"messages": [{"role": "robot", "content": "x"}]}).encode(), 422, "role"),
    (json.dumps({**CHAT, "options": {"temperature": -1}}).encode(), 422, "temperature"),
    (json.dumps({**CHAT, "options": {"num_predict": 100000}}).encode(), 422, "num_predict"),
    (json.dumps({**CHAT, "options": {"seed_of_chaos": 1}}).encode(), 422, "seed_of_chaos"),
    (json.dumps({**CHAT, "model": "llama3:70b"}).encode(), 404, "not found"),
    (json.dumps({"messages": [{"role": "user", "content": "x" * 5000}]}).encode(), 413, "larger than"),
    (json.dumps({"messages": [{"role": "user", "content": "x"}] * 40}).encode(), 422, "at most 32 messages"),
])
def test_bad_input_is_a_clear_4xx(app, content, status, message):
    r = httpx.post(app.url + "/api/chat", content=content, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in _is_ollama_error(r)["error"]
    assert httpx.get(app.url + "/healthz").status_code == 200  # still serving


def test_limits_from_settings(webapp_factory):
    app = webapp_factory(CHATAPP_MAX_MESSAGES="2", CHATAPP_MAX_CONTENT_CHARS="10",
                         CHATAPP_OLLAMA_URL=f"http://127.0.0.1:{launcher.free_port()}")
    three = {"messages": [{"role": "user", "content": "a"}] * 3}
    assert "at most 2 messages" in _is_ollama_error(httpx.post(app.url + "/api/chat", json=three))["error"]
    long = {"messages": [{"role": "user", "content": "a" * 11}]}
    assert "longer than 10" in _is_ollama_error(httpx.post(app.url + "/api/chat", json=long))["error"]


def test_ollama_down_is_503_with_retry_after(app):
    r = httpx.post(app.url + "/api/chat", json=CHAT, headers=AUTH)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert _is_ollama_error(r) == {"error": "ollama is not reachable"}
    metrics = httpx.get(app.url + "/metrics").text
    assert re.search(r'chatapp_requests_total\{code="503"\} [1-9]', metrics)


def test_cors_off_by_default_and_exact_when_set(webapp_factory):
    down = f"http://127.0.0.1:{launcher.free_port()}"
    pre = {"origin": "http://evil.example", "access-control-request-method": "POST"}
    off = webapp_factory(CHATAPP_OLLAMA_URL=down)
    assert "access-control-allow-origin" not in httpx.options(off.url + "/api/chat", headers=pre).headers
    on = webapp_factory(CHATAPP_OLLAMA_URL=down, CHATAPP_CORS_ORIGINS="http://app.example")
    r = httpx.options(on.url + "/api/chat", headers={**pre, "origin": "http://app.example"})
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert "access-control-allow-origin" not in httpx.options(on.url + "/api/chat", headers=pre).headers


def test_sigterm_drains_and_exits_0(webapp_factory):
    app = webapp_factory(CHATAPP_DRAIN_DELAY_S="1.0", CHATAPP_OLLAMA_URL=f"http://127.0.0.1:{launcher.free_port()}")
    t0 = time.monotonic()
    app.proc.send_signal(15)
    time.sleep(0.3)
    r = httpx.get(app.url + "/readyz")
    assert r.status_code == 503 and r.json()["status"] == "draining"
    assert app.proc.wait(20) == 0
    assert time.monotonic() - t0 >= 1.0  # waited the drain delay
    assert "draining" in app.logs() and "Traceback" not in app.logs()


# ---- with a real Ollama -------------------------------------------------------------------------------------
@pytest.mark.ollama
def test_chat_streams_through_the_proxy(ollama_url, webapp_factory):
    app = webapp_factory(CHATAPP_API_KEY=KEY, CHATAPP_OLLAMA_URL=ollama_url)
    assert httpx.get(app.url + "/readyz").json() == {"status": "ready", "models": [launcher.CHAT_MODEL],
                                                      "detail": None}
    lines = []
    with httpx.stream("POST", app.url + "/api/chat", json=CHAT, headers=AUTH, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(x) for x in r.iter_lines() if x]
    assert len(lines) >= 2 and lines[-1]["done"] is True
    assert "".join(x["message"]["content"] for x in lines[:-1]).strip()
    assert lines[-1]["eval_count"] <= 8  # num_predict reached Ollama


@pytest.mark.ollama
def test_sigterm_lets_a_streaming_chat_finish(ollama_url, webapp_factory):
    app = webapp_factory(CHATAPP_OLLAMA_URL=ollama_url, CHATAPP_DRAIN_DELAY_S="0.5")
    body = {"messages": [{"role": "user", "content": "Count from one to twenty in words."}],
            "options": {"num_predict": 64}}
    with httpx.stream("POST", app.url + "/api/chat", json=body, timeout=120) as r:
        it = r.iter_lines()
        first = next(it)
        app.proc.send_signal(15)
        rest = [x for x in it if x]
    assert json.loads(first)["done"] is False and json.loads(rest[-1])["done"] is True
    assert app.proc.wait(60) == 0
