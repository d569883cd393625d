"""SIGTERM under load: readiness turns 503 at once (LiteLLM's /health/drain), the in-flight request finishes,
the launcher exits 0 and stops the backend it started."""

from __future__ import annotations

import json
import threading
import time

import httpx

from conftest import BACKEND_DIR, MODEL, eog_ban, need_backend
from litellm_gateway.launcher import GatewayProcess


def test_sigterm_drains_in_flight_and_exits_0():
    need_backend()
    gw = GatewayProcess(LITELLM_GW_START_BACKEND="1", LITELLM_GW_BACKEND_DIR=str(BACKEND_DIR),
                        LITELLM_GW_DRAIN_DELAY_S="1", LITELLM_GW_DRAIN_TIMEOUT_S="60").start()
    result: dict = {}

    # 256 tokens with end-of-generation banned: seconds on the backend's one thread, so the request is still
    # generating when SIGTERM arrives (64 free tokens can finish first on a quiet machine)
    body = {"model": MODEL, "max_tokens": 256, "temperature": 0, "logit_bias": eog_ban(),
            "messages": [{"role": "user", "content": "Tell me a long story."}]}

    def long_request() -> None:
        r = httpx.post(gw.url + "/v1/chat/completions", timeout=120, json=body)
        result["status"], result["text"], result["done"] = r.status_code, r.text, time.monotonic()

    t = threading.Thread(target=long_request)
    t.start()
    time.sleep(0.5)
    gw.proc.send_signal(15)
    sigterm_at = time.monotonic()
    time.sleep(0.3)
    ready = httpx.get(gw.url + "/health/readiness", timeout=5)
    t.join(120)
    code = gw.proc.wait(90)
    assert ready.status_code == 503, ready.text
    assert result.get("status") == 200, result
    assert result["done"] > sigterm_at, "the request finished before SIGTERM: nothing was in flight"
    assert json.loads(result["text"])["usage"]["completion_tokens"] == 256, result["text"]
    assert code == 0, gw.logs()
    logs = gw.logs()
    assert "draining" in logs and "drained, exit 0" in logs, logs
