"""SIGTERM drains in-flight streams; API key; a bad model path fails fast with a message."""

from __future__ import annotations

import threading
import time

import httpx

from conftest import SMOL, ServerProcess, sse_events


def _stream_in_thread(url: str, body: dict, headers: dict, out: dict, first_event: threading.Event) -> None:
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=headers, timeout=120) as r:
            out["status"] = r.status_code
            events = []
            for line in r.iter_lines():
                if line.startswith("data: "):
                    events.append(line[6:])
                    first_event.set()
            out["events"] = events
    except httpx.HTTPError as e:
        out["error"] = repr(e)
    finally:
        first_event.set()


def test_sigterm_mid_stream_finishes_the_stream_then_exits_cleanly(eog_ban):
    key = "test-key"
    auth = {"Authorization": f"Bearer {key}"}
    srv = ServerProcess(LLAMACPP_API_KEY=key, LLAMACPP_EXTRA_MODEL_PATH="none", LLAMACPP_DRAIN_TIMEOUT_S="60").start()
    try:
        # API key: generation needs it, probes do not.
        assert httpx.post(srv.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                          timeout=30).status_code == 401
        assert httpx.get(srv.url + "/healthz", timeout=10).status_code == 200

        body = {"model": SMOL, "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 120,
                "temperature": 0, "stream": True, "logit_bias": eog_ban}
        out: dict = {}
        first = threading.Event()
        t = threading.Thread(target=_stream_in_thread, args=(srv.url, body, auth, out, first))
        t.start()
        assert first.wait(60)
        srv.sigterm()
        time.sleep(0.3)
        # Draining: not ready, new work refused with Retry-After, the stream keeps going.
        ready = httpx.get(srv.url + "/readyz", timeout=10)
        refused = httpx.post(srv.url + "/v1/chat/completions", headers=auth, timeout=30,
                             json={"model": SMOL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        t.join(timeout=120)
        assert not t.is_alive()
        code = srv.proc.wait(60)
    finally:
        srv.stop()
    assert "error" not in out, out
    assert out["status"] == 200
    assert out["events"][-1] == "[DONE]"  # finished, not cut
    content_events = [e for e in out["events"][:-1] if '"content"' in e]
    assert len(content_events) >= 100
    assert ready.status_code == 503 and int(ready.headers["retry-after"]) >= 1
    body = ready.json()
    assert set(body) == {"status", "models", "detail"}
    assert (body["status"], body["models"]) == ("draining", [SMOL]) and body["detail"]
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining"
    assert int(refused.headers["retry-after"]) >= 1
    assert code == 0, srv.logs()


def test_sigterm_with_short_drain_timeout_ends_streams_cleanly(eog_ban):
    srv = ServerProcess(LLAMACPP_EXTRA_MODEL_PATH="none", LLAMACPP_DRAIN_TIMEOUT_S="1",
                        LLAMACPP_MAX_TOKENS_LIMIT="2048").start()
    try:
        body = {"model": SMOL, "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 2000,
                "temperature": 0, "stream": True, "logit_bias": eog_ban}
        out: dict = {}
        first = threading.Event()
        t = threading.Thread(target=_stream_in_thread, args=(srv.url, body, {}, out, first))
        t.start()
        assert first.wait(60)
        t0 = time.monotonic()
        srv.sigterm()
        t.join(timeout=60)
        ended_after = time.monotonic() - t0
        code = srv.proc.wait(60)
    finally:
        srv.stop()
    assert not t.is_alive(), "stream hung after SIGTERM"
    assert ended_after < 30
    # The stream was cut at the drain deadline: the client sees the stream end (no hang,
    # no half-written event), short of the 2000 tokens asked for.
    assert out.get("status") == 200
    assert len(out.get("events", [])) < 2000
    assert code == 0, srv.logs()


def test_missing_model_file_fails_fast_with_a_message(tmp_path):
    srv = ServerProcess(LLAMACPP_MODEL_PATH=str(tmp_path / "nope.gguf"), LLAMACPP_EXTRA_MODEL_PATH="none")
    srv.start(wait_ready=False)
    code = srv.proc.wait(120)
    assert code == 1
    assert "nope.gguf" in srv.logs()


def test_sse_events_helper_roundtrip(http):
    """The helper used above parses a real stream (guards the tests themselves)."""
    with http.stream("POST", "/v1/chat/completions", json={"model": SMOL, "stream": True, "max_tokens": 3,
                                                           "messages": [{"role": "user", "content": "hi"}]}) as r:
        events = sse_events(r)
    assert events[-1] == "[DONE]" and isinstance(events[0], dict)


def test_drain_delay_keeps_the_process_up_not_ready_and_refusing_generation():
    """LLAMACPP_DRAIN_DELAY_S: readiness 503 and new generation 503 at once, exit 0 only after the delay."""
    srv = ServerProcess(LLAMACPP_EXTRA_MODEL_PATH="none", LLAMACPP_DRAIN_DELAY_S="1.5").start()
    try:
        t0 = time.monotonic()
        srv.sigterm()
        time.sleep(0.2)
        ready = httpx.get(srv.url + "/readyz", timeout=10)
        refused = httpx.post(srv.url + "/v1/chat/completions", timeout=30,
                             json={"model": SMOL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        models = httpx.get(srv.url + "/v1/models", timeout=10)  # cheap non-generation routes still answer
        code = srv.proc.wait(60)
        took = time.monotonic() - t0
    finally:
        srv.stop()
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining"
    assert models.status_code == 200
    assert took >= 1.5 and code == 0, (took, srv.logs())
    assert "draining" in srv.logs() and "drained in" in srv.logs()
