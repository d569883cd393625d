"""Bad input -> a clear 4xx in OpenAI's error shape, no traceback or path, and the server keeps serving."""

import json
import re

import pytest

E, C = "/v1/embeddings", "/v1/chat/completions"
EV = {"model": "all-MiniLM-L6-v2", "input": "A cat."}
CV = {"model": "SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
LEAK = re.compile(r"Traceback|\.py\b|site-packages|/(usr|home|root|opt|tmp|work)/|\b\w+(Error|Exception)\b")


def j(obj) -> bytes:
    return json.dumps(obj).encode()


CASES = [
    (E, b"{not json", 400), (E, b"", 400), (E, b"[]", 422), (E, b"null", 422), (E, b"{}", 422),
    (E, j({**EV, "input": {"a": 1}}), 422), (E, j({**EV, "input": []}), 400), (E, j({**EV, "input": [""]}), 400),
    (E, j({**EV, "input": ["hi"] * 65}), 413), (E, j({**EV, "model": "nope"}), 404),
    (E, j({**EV, "dimensions": 12}), 400), (E, j({**EV, "dimensions": -1}), 422),
    (E, j({**EV, "encoding_format": "png"}), 422), (E, b'{"model": "all-MiniLM-L6-v2", "input": "x", "dimensions": NaN}', 400),
    (E, b'{"model": "all-MiniLM-L6-v2", "input": "\\ud800"}', 422), (E, b'{"input": "\xff\xfe"}', 400),
    (E, b'{"model": "all-MiniLM-L6-v2", "input": ' + b"[" * 50000 + b"]" * 50000 + b"}", 400),
    (E, b'{"model": "all-MiniLM-L6-v2", "input": "x", "dimensions": 1' + b"0" * 5000 + b"}", 400),
    (E, j({**EV, "input": "x" * 300_000}), 413), (E, j({**EV, "input": "hello " * 400}), 400),
    (E, j({**EV, "input": "hello " * 20000}), 400),
    (C, j({**CV, "messages": "hi"}), 422), (C, j({**CV, "messages": []}), 422), (C, j({**CV, "max_tokens": "ten"}), 422),
    (C, j({**CV, "temperature": -1}), 422), (C, j({**CV, "top_p": 7}), 422), (C, j({**CV, "n": 3}), 422),
    (C, j({**CV, "max_tokens": 33}), 400), (C, j({**CV, "model": "nope"}), 404), (C, j({**CV, "stop": {"a": 1}}), 422),
    (C, j({**CV, "messages": [{"role": "user", "content": "hello " * 20000}]}), 400),
    (C, j({**CV, "messages": [{"role": "wizard", "content": "hi"}]}), 422),
    (C, j({**CV, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}), 400),
    (C, j({**CV, "messages": [{"role": "user", "content": [{"type": "text"}]}]}), 400),
    (C, j({**CV, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}), 422),
    (C, j({**CV, "messages": [{"role": "user", "content": [7]}]}), 422),
    (C, j({**CV, "logit_bias": {"abc": -100}}), 400), (C, j({**CV, "logit_bias": {"99999999": -100}}), 400),
    (C, j({**CV, "logit_bias": {"2": -101}}), 400), (C, j({**CV, "logit_bias": {"2": "ban"}}), 422),
    (C, j({**CV, "logit_bias": [2]}), 422),
]


@pytest.mark.parametrize("path,body,status", CASES, ids=[f"{i}-{c[0].rsplit('/', 1)[1]}-{c[2]}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_clear_4xx(http, path, body, status):
    r = http.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert not LEAK.search(r.text), r.text
    assert http.get("/healthz").status_code == 200


def test_still_serves_after_bad_input(http):
    assert http.post(E, json=EV).status_code == 200
