"""Bad input gets a 4xx with a message, never a 5xx, and the server keeps serving."""

from __future__ import annotations

import pytest

from conftest import GEMMA, SMOL, sse_events

Q = [{"role": "user", "content": "Hi"}]
LONG = "hello " * 3000  # ~3000 tokens > n_ctx 2048

CHAT_CASES = {
    "prompt_over_context": ({"messages": [{"role": "user", "content": LONG}]}, 400, "context_length_exceeded"),
    "invalid_role": ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "invalid_value"),
    "negative_max_tokens": ({"messages": Q, "max_tokens": -5}, 400, "invalid_value"),
    "zero_max_tokens": ({"messages": Q, "max_tokens": 0}, 400, "invalid_value"),
    "max_tokens_over_limit": ({"messages": Q, "max_tokens": 10**6}, 400, "invalid_value"),
    "max_tokens_not_int": ({"messages": Q, "max_tokens": "ten"}, 400, "invalid_value"),
    "absurd_temperature": ({"messages": Q, "temperature": 1e9}, 400, "invalid_value"),
    "negative_temperature": ({"messages": Q, "temperature": -1}, 400, "invalid_value"),
    "temperature_not_number": ({"messages": Q, "temperature": "hot"}, 400, "invalid_value"),
    "top_p_out_of_range": ({"messages": Q, "top_p": 7}, 422, "invalid_request"),
    "stop_wrong_type": ({"messages": Q, "stop": 5}, 422, "invalid_request"),
    "message_not_an_object": ({"messages": ["hi"]}, 400, "invalid_value"),
    "empty_messages": ({"messages": []}, 400, "invalid_value"),
    "missing_messages": ({}, 400, "invalid_value"),
    "n_greater_than_one": ({"messages": Q, "n": 3}, 400, "unsupported_parameter"),
    "unknown_model": ({"messages": Q, "model": "gpt-9"}, 404, "model_not_found"),
    "bad_response_format": ({"messages": Q, "response_format": {"type": "yaml"}}, 400, "invalid_value"),
    "logprobs": ({"messages": Q, "logprobs": True}, 400, "unsupported_parameter"),
    "bad_grammar": ({"messages": Q, "grammar": "root ::= ("}, 400, "invalid_grammar"),
    "image_content_part": ({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, 400, "invalid_value"),
    "text_part_without_text": ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400,
                               "invalid_value"),
}


@pytest.mark.parametrize("case", sorted(CHAT_CASES))
def test_bad_chat_request(http, case):
    body, status, code = CHAT_CASES[case]
    r = http.post("/v1/chat/completions", json={"model": SMOL, **body} if "model" not in body else body)
    assert r.status_code == status, r.text
    if code is not None:
        err = r.json()["error"]
        assert err["code"] == code and err["message"]
    else:
        assert r.json()  # FastAPI/pydantic validation detail, or the library's error


def test_prompt_over_context_completions(http):
    r = http.post("/v1/completions", json={"model": GEMMA, "prompt": LONG, "max_tokens": 4})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "context_length_exceeded" and "2048" in err["message"]


def test_prompt_over_context_streaming_is_400_not_a_broken_stream(http):
    body = {"model": SMOL, "messages": [{"role": "user", "content": LONG}], "stream": True}
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"


def test_several_prompts_in_one_completion_request(http):
    r = http.post("/v1/completions", json={"model": GEMMA, "prompt": ["a", "b"]})
    assert r.status_code == 400


def test_malformed_json(http):
    r = http.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"


def test_body_too_large(http):
    r = http.post("/v1/completions", content=b"x" * 1_100_000, headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_server_still_serves_after_bad_input(client, http):
    for case in ("prompt_over_context", "absurd_temperature"):
        body, _, _ = CHAT_CASES[case]
        http.post("/v1/chat/completions", json={"model": SMOL, **body})
    r = client.chat.completions.create(model=SMOL, messages=[{"role": "user", "content": "Say hi"}], max_tokens=4)
    assert r.choices[0].message.content is not None
    with http.stream("POST", "/v1/chat/completions",
                     json={"model": SMOL, "messages": Q, "max_tokens": 4, "stream": True}) as s:
        assert sse_events(s)[-1] == "[DONE]"
