"""The OpenAI API of vLLM's own server, through real clients: openai (plain, streaming, JSON schema),
LangChain's ChatOpenAI, httpx; usage counts, stop sequences, and continuous batching seen in vLLM's
own Prometheus metrics."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from conftest import API_KEY, MODEL, metric, sse_events

pytestmark = pytest.mark.slow

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]


def test_models_lists_served_name(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == [MODEL]


def test_chat_plain(client):
    r = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=16, temperature=0)
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content.strip()
    assert r.choices[0].finish_reason in ("stop", "length")


def test_streamed_equals_plain_at_temperature_0(client):
    """SSE deltas joined give exactly the non-streamed text (same prompt, greedy)."""
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=24, temperature=0)
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=24, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    parts, usage = [], None
    for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
        if chunk.usage:
            usage = chunk.usage
    assert "".join(parts) == plain.choices[0].message.content
    assert usage is not None and usage.completion_tokens == plain.usage.completion_tokens


def test_usage_counts_match_the_tokenizer(client, tokenizer):
    """prompt_tokens = the chat template rendered and tokenized here; completion_tokens = tokens of the text."""
    r = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=12, temperature=0,
                                       extra_body={"ignore_eos": True})
    ids = tokenizer.apply_chat_template(HELLO, add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert r.usage.prompt_tokens == len(ids)
    assert r.usage.completion_tokens == 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + 12
    assert r.choices[0].finish_reason == "length"


def test_completions_and_stop_sequence(client):
    """Plain /v1/completions; with ``stop`` the text ends before the stop string and finish_reason is stop."""
    base = client.completions.create(model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0)
    text = base.choices[0].text
    assert text.strip(), "completion is empty"
    stop = text.strip()[:2]  # a string the greedy continuation is known to produce
    r = client.completions.create(model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0, stop=[stop])
    assert stop not in r.choices[0].text
    assert r.choices[0].finish_reason == "stop"
    assert text.startswith(r.choices[0].text)


def test_json_schema_structured_output(client):
    """OpenAI structured outputs: the reply parses and validates against the schema (xgrammar in vLLM)."""
    import jsonschema

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    r = client.chat.completions.create(
        model=MODEL, temperature=0, max_tokens=60,
        messages=[{"role": "user", "content": "Describe a person named Ann, aged 30, as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
    data = json.loads(r.choices[0].message.content)
    jsonschema.validate(data, schema)


def test_langchain_chat_openai(base_url):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=base_url + "/v1", api_key=API_KEY, model=MODEL, temperature=0, max_tokens=12,
                     max_retries=0)
    msg = llm.invoke("Say hello.")
    assert isinstance(msg.content, str) and msg.content.strip()


def test_raw_sse_stream_ends_with_done(http):
    with http.stream("POST", "/v1/completions", json={"model": MODEL, "prompt": "Hello", "max_tokens": 8,
                                                      "temperature": 0, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    assert events[-1] == "[DONE]"
    assert sum(1 for e in events[:-1] if e["choices"] and e["choices"][0]["text"]) >= 1


def test_continuous_batching_visible_in_vllm_metrics(client, base_url):
    """6 concurrent streams: vLLM's own gauge ``vllm:num_requests_running`` shows several at once.

    A server without continuous batching (llama-cpp-python's) would run them one after another.
    """
    peak = [0.0]
    done = threading.Event()

    def poll():
        with httpx.Client(timeout=5) as h:
            while not done.is_set():
                peak[0] = max(peak[0], metric(h.get(base_url + "/metrics").text, "vllm:num_requests_running"))
                time.sleep(0.05)

    def one():
        client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=96, temperature=0,
                                  extra_body={"ignore_eos": True})

    poller = threading.Thread(target=poll)
    poller.start()
    workers = [threading.Thread(target=one) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    done.set()
    poller.join(10)
    assert peak[0] >= 4, f"at most {peak[0]:.0f} requests ran at once"
