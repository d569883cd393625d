"""Hostile input on every route of the served OpenAPI document: a 4xx in OpenAI's error shape, never a
5xx, a traceback, a file path or an internal class name; the server keeps serving.

These are the findings of a hostile-input sweep against llama-cpp-python 0.3.36's own server
(500s on empty or schema-invalid bodies of /v1/embeddings, /v1/completions and /extras/*, on
pathological JSON on /v1/chat/completions, one 500 carrying a traceback with absolute paths).
"""

from __future__ import annotations

import re

import pytest

from conftest import GEMMA, SMOL

POST_ROUTES = ["/v1/chat/completions", "/v1/completions", "/extras/tokenize", "/extras/tokenize/count",
               "/extras/detokenize"]

#: name -> raw body. Each one was a 500 (or a crash risk) somewhere without the guard.
BODIES = {
    "empty": b"",
    "whitespace": b"   ",
    "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep_object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "huge_number": b'{"max_tokens": 1e999999, "input": "x", "tokens": [1], "prompt": "x"}',
    "max_tokens_1e400": b'{"max_tokens": 1e400}',
    "huge_integer": b'{"tokens": [' + b"9" * 5000 + b"]}",
    "int_over_int64": b'{"tokens": [99999999999999999999999], "seed": 99999999999999999999999}',
    "nan_literal": b'{"temperature": NaN, "top_p": Infinity}',
    "duplicate_keys": b'{"model": "a", "model": "b"}',
    "non_utf8": b'{"input": "\xff\xfe\xfd", "prompt": "\xc3\x28"}',
    "utf16_bom": "{\"input\": \"x\"}".encode("utf-16"),
    "lone_surrogate": b'{"input": "\\ud800", "prompt": "\\udfff", "messages": [{"role": "user", "content": "\\ud800"}]}',
    "not_json": b"{not json",
    "json_array": b"[]",
    "json_null": b"null",
    "json_string": b'"hello"',
    "empty_object": b"{}",
    "wrong_types": b'{"messages": 5, "prompt": 7, "input": 3, "tokens": "x", "model": 5}',
    "model_not_a_string": b'{"model": ["x"], "input": "x", "tokens": [1], "prompt": "x", '
                          b'"messages": [{"role": "user", "content": "x"}]}',
    "numeric_strings": b'{"input": 5, "tokens": ["1"], "prompt": "x", "top_p": "0.5", '
                       b'"messages": [{"role": "user", "content": "x"}]}',
}

LEAKS = re.compile(r"Traceback|File \"|/site-packages/|\.py\b|/usr/|/root/|/home/|/tmp/|[A-Za-z]+(Error|Exception)\b")


def _assert_openai_error(r, statuses=range(400, 500)) -> dict:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"] and err["code"], err
    assert not LEAKS.search(r.text), r.text[:500]
    return err


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize("name", sorted(BODIES))
def test_pathological_body_is_a_clean_4xx(http, route, name):
    r = http.post(route, content=BODIES[name], headers={"content-type": "application/json"})
    _assert_openai_error(r)


@pytest.mark.parametrize("route", POST_ROUTES)
def test_oversized_body_is_413(http, route):
    err = _assert_openai_error(http.post(route, content=b"x" * 1_100_000), [413])
    assert err["code"] == "body_too_large"


GEN_CASES = {
    "completions_logprobs_zero": ("/v1/completions", {"model": GEMMA, "prompt": "x", "max_tokens": 2, "logprobs": 0}),
    "empty_completion_prompt": ("/v1/completions", {"model": SMOL, "prompt": "", "max_tokens": 2}),
    "logit_bias_key_not_an_id": ("/v1/completions", {"model": GEMMA, "prompt": "x", "max_tokens": 2,
                                                     "logit_bias": {"abc": 1}}),
    "logit_bias_id_past_vocab": ("/v1/completions", {"model": GEMMA, "prompt": "x", "max_tokens": 2,
                                                     "logit_bias": {"99999999": 1}}),
    "logit_bias_value_out_of_range": ("/v1/chat/completions", {"model": SMOL, "max_tokens": 2,
                                                               "messages": [{"role": "user", "content": "x"}],
                                                               "logit_bias": {"1": 1e300}}),
    "json_schema_not_an_object": ("/v1/chat/completions", {"model": SMOL, "messages": [{"role": "user", "content": "x"}],
                                                           "response_format": {"type": "json_schema",
                                                                               "json_schema": "x"}}),
    "max_tokens_float": ("/v1/chat/completions", {"model": SMOL, "messages": [{"role": "user", "content": "x"}],
                                                  "max_tokens": 2.5}),
    "n_true": ("/v1/chat/completions", {"model": SMOL, "messages": [{"role": "user", "content": "x"}], "n": True}),
    "detokenize_negative_id": ("/extras/detokenize", {"model": SMOL, "tokens": [-1, 5]}),
    "detokenize_id_past_vocab": ("/extras/detokenize", {"model": SMOL, "tokens": [10**9]}),
    "tokenize_unknown_model": ("/extras/tokenize", {"model": "gpt-9", "input": "x"}),
    "count_unknown_model": ("/extras/tokenize/count", {"model": "gpt-9", "input": "x"}),
}


@pytest.mark.parametrize("case", sorted(GEN_CASES))
def test_bad_values_are_clean_4xx(http, case):
    route, body = GEN_CASES[case]
    _assert_openai_error(http.post(route, json=body))


def test_detokenize_of_a_split_utf8_character_is_400(http, tokenizers):
    """A token sequence that ends inside a multi-byte character: the library's strict decode was a 500."""
    tok = tokenizers[SMOL]
    ids = [i for i in range(tok.n_vocab()) if not _decodes(tok, i)][:1]
    assert ids, "SmolLM2's byte-level vocabulary has tokens that are partial UTF-8"
    err = _assert_openai_error(http.post("/extras/detokenize", json={"model": SMOL, "tokens": ids}))
    assert err["param"] == "tokens"
    whole = http.post("/extras/detokenize", json={"model": SMOL, "tokens": tok.tokenize("héllo €".encode(),
                                                                                         add_bos=False)})
    assert whole.status_code == 200 and whole.json()["text"] == "héllo €"


def _decodes(tok, i: int) -> bool:
    try:
        tok.detokenize([i]).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_extras_happy_paths(http, tokenizers):
    ids = http.post("/extras/tokenize", json={"model": GEMMA, "input": "The sky is blue"}).json()["tokens"]
    assert ids == tokenizers[GEMMA].tokenize(b"The sky is blue", add_bos=True, special=True)
    assert http.post("/extras/tokenize/count", json={"input": "The sky is blue"}).json()["count"] == \
        len(tokenizers[SMOL].tokenize(b"The sky is blue", add_bos=True, special=True))
    assert http.post("/extras/detokenize", json={"model": GEMMA, "tokens": ids[1:]}).json()["text"] == \
        "The sky is blue"


def test_embeddings_are_not_served(http):
    """Models load without embedding=True: the route is gone from the app and its OpenAPI document,
    and a client that calls it anyway gets a 404 that says why."""
    err = _assert_openai_error(http.post("/v1/embeddings", json={"input": "x"}), [404])
    assert "embeddings are not enabled" in err["message"].lower()
    assert "/v1/embeddings" not in http.get("/openapi.json").json()["paths"]


def test_hidden_legacy_route_is_not_an_unguarded_way_in(http):
    """The library's hidden /v1/engines/copilot-codex/completions would bypass the checks and the queue."""
    _assert_openai_error(http.post("/v1/engines/copilot-codex/completions", json={"prompt": "x"}), [404])


@pytest.mark.parametrize("method,path,status", [("GET", "/v1/chat/completions", 405), ("PUT", "/v1/models", 405),
                                                ("GET", "/no/such/path", 404), ("GET", "/v1/nope", 404)])
def test_unknown_routes_and_methods_answer_in_openai_shape(http, method, path, status):
    r = http.request(method, path)
    _assert_openai_error(r, [status])
    if status == 405:
        assert r.headers["allow"]


def test_server_still_serves_after_the_sweep(http, client):
    for route in POST_ROUTES:
        http.post(route, content=BODIES["deep_nesting"])
    r = client.chat.completions.create(model=SMOL, messages=[{"role": "user", "content": "Say hi"}], max_tokens=4)
    assert r.choices[0].message.content is not None
    assert http.get("/readyz").status_code == 200
