"""Auth, retries and timeouts as configured: the documented LiteLLM status codes (keys, budgets and rate
limits with PostgreSQL: test_database.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import MASTER, MODEL

BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


NO_DB = pytest.mark.xfail(strict=True, reason="without a database LiteLLM looks an unknown key up in the DB and "
                          "answers 400 'No connected db' (with PostgreSQL it is 401: tests/test_database.py)")


@pytest.mark.parametrize("headers", [{}, pytest.param({"authorization": "Bearer sk-wrong"}, marks=NO_DB),
                                     {"authorization": MASTER}], ids=["missing", "invalid", "not-bearer"])
def test_bad_key_is_401_in_openai_shape(gateway, headers):
    r = httpx.post(gateway.url + "/v1/chat/completions", headers=headers, json=BODY, timeout=30)
    assert r.status_code == 401, r.text
    err = r.json()["error"]
    assert err["type"] == "auth_error" and err["message"], err


def test_unknown_key_without_database_is_400_no_db(gateway):
    """What the deviation above is: the documented message, in the OpenAI error shape."""
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": "Bearer sk-wrong"}, json=BODY,
                   timeout=30)
    assert r.status_code == 400 and "No connected db" in r.json()["error"]["message"], r.text


def test_probes_open_without_key(gateway):
    assert httpx.get(gateway.url + "/health/liveliness", timeout=10).status_code == 200
    assert httpx.get(gateway.url + "/health/readiness", timeout=10).status_code == 200


def test_timeout_and_retries_as_configured(gateway, blackhole):
    """A hung upstream: 2 s timeout per attempt, router ``num_retries: 1`` -> 2 attempts, then 408."""
    before = blackhole.connections
    t0 = time.monotonic()
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER}"},
                   json={**BODY, "model": "hung"}, timeout=60)
    took = time.monotonic() - t0
    assert r.status_code == 408, r.text[:500]
    assert r.json()["error"]["message"]
    assert blackhole.connections - before == 2, blackhole.connections - before
    assert 3.5 < took < 15, took
