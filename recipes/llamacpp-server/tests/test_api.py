"""Happy paths with the real models through the official openai client and raw HTTP."""

from __future__ import annotations

import json

from conftest import GEMMA, SMOL, sse_events

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def test_health_ready_metrics(http):
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "models": [SMOL, GEMMA], "detail": None}
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert "llamacpp_ready 1.0" in metrics.text
    assert "llamacpp_in_flight_requests" in metrics.text
    assert "llamacpp_queued_requests" in metrics.text


def test_models_lists_both(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == [SMOL, GEMMA]


def test_chat_template_applied_answer_is_sensible(client):
    reply = client.chat.completions.create(model=SMOL, messages=QUESTION, max_tokens=32, temperature=0, seed=1)
    assert "paris" in reply.choices[0].message.content.lower()
    assert reply.choices[0].message.role == "assistant"


def test_text_content_parts_answer_like_a_string(client):
    """OpenAI's content-part form (what `vllm bench serve`'s openai-chat client sends) gives the same answer."""
    parts = [{"role": "user", "content": [{"type": "text", "text": QUESTION[0]["content"]}]}]
    a = client.chat.completions.create(model=SMOL, messages=QUESTION, max_tokens=8, temperature=0, seed=1)
    b = client.chat.completions.create(model=SMOL, messages=parts, max_tokens=8, temperature=0, seed=1)
    assert b.choices[0].message.content == a.choices[0].message.content
    assert b.usage.prompt_tokens == a.usage.prompt_tokens


def test_deterministic_at_temperature_zero_with_seed(client):
    def ask() -> str:
        return client.chat.completions.create(model=SMOL, messages=QUESTION, max_tokens=24, temperature=0,
                                              seed=42).choices[0].message.content

    first = ask()
    assert first and all(ask() == first for _ in range(2))


def test_seeded_sampling_is_reproducible(client):
    def sample() -> str:
        return client.completions.create(model=GEMMA, prompt="Once upon a time", max_tokens=16, temperature=0.9,
                                         seed=1234).choices[0].text

    assert sample() == sample()


def test_chat_stream_concatenates_to_non_streamed_text(client):
    kwargs = dict(model=SMOL, messages=QUESTION, max_tokens=32, temperature=0, seed=7)
    full = client.chat.completions.create(**kwargs).choices[0].message.content
    parts = [c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kwargs)
             if c.choices]
    assert "".join(parts) == full
    assert len([p for p in parts if p]) > 1  # really streamed, token by token


def test_completion_stream_concatenates_to_non_streamed_text(client):
    kwargs = dict(model=GEMMA, prompt="The three primary colors are", max_tokens=24, temperature=0, seed=7)
    full = client.completions.create(**kwargs).choices[0].text
    parts = [c.choices[0].text for c in client.completions.create(stream=True, **kwargs)]
    assert "".join(parts) == full


def test_raw_sse_format_ends_with_done(http):
    body = {"model": SMOL, "messages": QUESTION, "max_tokens": 8, "temperature": 0, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_usage_counts_match_the_tokenizer_completions(client, tokenizers):
    prompt = "The three primary colors are"
    r = client.completions.create(model=GEMMA, prompt=prompt, max_tokens=12, temperature=0)
    expected_prompt = len(tokenizers[GEMMA].tokenize(prompt.encode(), add_bos=True, special=True))
    assert r.usage.prompt_tokens == expected_prompt
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 12
    assert r.usage.total_tokens == expected_prompt + 12
    # Re-tokenising the text gives the same count (up to merges across token boundaries).
    retok = len(tokenizers[GEMMA].tokenize(r.choices[0].text.encode(), add_bos=False, special=False))
    assert abs(retok - 12) <= 2


def test_usage_counts_match_the_tokenizer_chat(client, tokenizers):
    from llamacpp_server.app import chat_formatter

    tok = tokenizers[SMOL]
    rendered = chat_formatter(tok)(messages=QUESTION).prompt
    assert "<|im_start|>user" in rendered  # SmolLM2's ChatML template from the GGUF
    r = client.chat.completions.create(model=SMOL, messages=QUESTION, max_tokens=32, temperature=0)
    assert r.usage.prompt_tokens == len(tok.tokenize(rendered.encode(), add_bos=False, special=True))
    assert r.usage.completion_tokens <= 32


def test_stops_at_max_tokens(client):
    r = client.chat.completions.create(model=SMOL, messages=[{"role": "user", "content": "Count from 1 to 50."}],
                                       max_tokens=5, temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5


def test_stops_at_stop_sequence(client):
    kwargs = dict(model=GEMMA, prompt="1, 2, 3, 4, 5,", max_tokens=24, temperature=0)
    free = client.completions.create(**kwargs).choices[0].text
    assert " 8" in free  # the base model continues the count
    stopped = client.completions.create(stop=[" 8"], **kwargs)
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].text == free[: free.index(" 8")]


def test_json_object_response_format(client):
    r = client.chat.completions.create(
        model=SMOL, messages=[{"role": "user", "content": "Describe Paris as JSON."}],
        response_format={"type": "json_object"}, max_tokens=96, temperature=0)
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_json_schema_response_format(client):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                               "population": {"type": "integer"}},
              "required": ["city", "population"]}
    r = client.chat.completions.create(
        model=SMOL, messages=[{"role": "user", "content": "What is the largest city in France? Reply in JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        max_tokens=64, temperature=0)
    data = json.loads(r.choices[0].message.content)
    assert set(data) == {"city", "population"}
    assert isinstance(data["city"], str) and isinstance(data["population"], int)


def test_gbnf_grammar(client):
    r = client.completions.create(model=GEMMA, prompt="Is the sky blue? Answer:", max_tokens=4, temperature=0,
                                  extra_body={"grammar": 'root ::= " yes" | " no"'})
    assert r.choices[0].text in (" yes", " no")


def test_metrics_count_requests_and_tokens(http, client):
    client.chat.completions.create(model=SMOL, messages=QUESTION, max_tokens=4, temperature=0)
    text = http.get("/metrics").text
    assert 'llamacpp_requests_total{route="chat",status="200"}' in text
    assert 'llamacpp_tokens_total{kind="completion"}' in text
    assert "llamacpp_time_to_first_token_seconds_count" in text
