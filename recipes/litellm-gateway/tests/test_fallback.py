"""Fallback: the primary llama.cpp server is killed in the middle of a run; every request still succeeds,
answered by the fallback deployment (config.yaml router_settings.fallbacks)."""

from __future__ import annotations

import threading
import time

import httpx

from conftest import MASTER, MODEL, eog_ban
from litellm_gateway.launcher import GatewayProcess


def test_primary_killed_mid_run_requests_succeed_through_fallback(backend_pair):
    primary, fallback = backend_pair
    gw = GatewayProcess(LITELLM_GW_API_KEY=MASTER, LITELLM_GW_PRIMARY_URL=primary.url,
                        LITELLM_GW_FALLBACK_URL=fallback.url).start()
    try:
        auth = {"authorization": f"Bearer {MASTER}"}
        body = {"model": MODEL, "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 48,
                "temperature": 0}
        served: list[tuple[int, str | None]] = []
        with httpx.Client(base_url=gw.url, headers=auth, timeout=120) as c:
            for _ in range(2):
                r = c.post("/v1/chat/completions", json=body)
                served.append((r.status_code, r.headers.get("x-litellm-model-id")))
            # Kill the primary while a request is generating on it: 512 tokens with end-of-generation banned take
            # seconds on one thread (48 tokens took 0.41 s on a quiet machine, finishing before a 0.4 s kill).
            long = {**body, "max_tokens": 512, "logit_bias": eog_ban()}
            killer = threading.Timer(0.4, primary.kill)
            killer.start()
            t0 = time.monotonic()
            r = c.post("/v1/chat/completions", json=long)
            in_flight = (r.status_code, r.headers.get("x-litellm-model-id"), time.monotonic() - t0)
            killer.join()
            assert primary.proc.poll() is not None, "the primary was not killed"
            for _ in range(4):
                r = c.post("/v1/chat/completions", json=body)
                served.append((r.status_code, r.headers.get("x-litellm-model-id")))
                assert r.json()["choices"][0]["message"]["content"], r.text
        assert served[:2] == [(200, "llamacpp-primary")] * 2, served
        assert in_flight[:2] == (200, "llamacpp-fallback") and in_flight[2] > 0.4, in_flight
        assert served[2:] == [(200, "llamacpp-fallback")] * 4, served
    finally:
        code = gw.stop()
    assert code == 0, gw.logs()
