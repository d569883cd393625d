"""The official openai client through the gateway to a real local model, plain and streaming."""

from __future__ import annotations

import httpx

from conftest import MASTER, MODEL


def test_models_listed(client):
    ids = [m.id for m in client.models.list().data]
    assert MODEL in ids, ids


def test_chat_plain(client):
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Name a colour."}],
                                       max_tokens=8, temperature=0)
    assert r.choices[0].message.content.strip()
    assert r.usage.completion_tokens >= 1 and r.usage.prompt_tokens > 0
    assert r.model == MODEL


def test_chat_streaming(client):
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Count to five."}],
                                            max_tokens=16, temperature=0, stream=True)
    parts = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len([p for p in parts if p]) >= 2, parts
    assert "".join(parts).strip()


def test_served_by_primary_while_it_is_up(gateway):
    """LiteLLM names the deployment that answered in ``x-litellm-model-id`` (config.yaml model_info.id)."""
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER}"},
                   json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
                   timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers.get("x-litellm-model-id") == "llamacpp-primary"


def test_metrics_open(gateway):
    r = httpx.get(gateway.url + "/metrics/", timeout=10)  # mounted at /metrics/ (307 from /metrics)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text[:300]
