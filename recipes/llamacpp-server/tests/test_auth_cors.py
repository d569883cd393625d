"""API key on every model endpoint (constant-time check, 401 + WWW-Authenticate), the OpenAPI document's
security declarations with and without a key, and CORS off unless origins are configured."""

from __future__ import annotations

import httpx
import pytest

from conftest import SMOL, ServerProcess

KEY = "k3y-for-tests"

#: One valid request per operation of the served OpenAPI document.
OPERATIONS = [
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}),
    ("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 2}),
    ("POST", "/extras/tokenize", {"input": "hi"}),
    ("POST", "/extras/tokenize/count", {"input": "hi"}),
    ("POST", "/extras/detokenize", {"tokens": [1, 2]}),
]


@pytest.fixture(scope="module")
def keyed():
    srv = ServerProcess(LLAMACPP_API_KEY=KEY, LLAMACPP_EXTRA_MODEL_PATH="none",
                        LLAMACPP_CORS_ORIGINS="https://app.example, https://other.example").start()
    yield srv
    srv.stop()


def test_operations_list_matches_the_openapi_document(keyed):
    doc = httpx.get(keyed.url + "/openapi.json", timeout=10).json()
    served = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == {(m, p) for m, p, _ in OPERATIONS}


@pytest.mark.parametrize("method,path,body", OPERATIONS)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Bearer {KEY}x", KEY, f"Basic {KEY}", "Bearer", f"bearer {KEY}"])
def test_every_model_endpoint_needs_the_key(keyed, method, path, body, auth):
    headers = {"Authorization": auth} if auth else {}
    r = httpx.request(method, keyed.url + path, json=body, headers=headers, timeout=30)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    err = r.json()["error"]
    assert err["code"] == "invalid_api_key" and set(err) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("method,path,body", OPERATIONS)
def test_the_right_key_is_accepted(keyed, method, path, body):
    r = httpx.request(method, keyed.url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert r.status_code == 200, r.text


def test_probes_metrics_and_docs_stay_open(keyed):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert httpx.get(keyed.url + path, timeout=10).status_code == 200, path


def test_openapi_declares_bearer_on_every_model_endpoint_with_a_key(keyed):
    doc = httpx.get(keyed.url + "/openapi.json", timeout=10).json()
    assert doc["components"]["securitySchemes"] == {"HTTPBearer": {"type": "http", "scheme": "bearer"}}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["security"] == [{"HTTPBearer": []}], (method, path)
            assert "401" in op["responses"], (method, path)


def test_openapi_declares_no_security_without_a_key(http):
    doc = http.get("/openapi.json").json()
    assert "securitySchemes" not in doc.get("components", {})
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "security" not in op and "401" not in op["responses"], (method, path)


def test_cors_allows_only_configured_origins(keyed):
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    ok = httpx.options(keyed.url + "/v1/chat/completions", headers=pre, timeout=10)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
    assert set(ok.headers["access-control-allow-methods"].replace(" ", "").split(",")) == {"GET", "POST"}
    evil = httpx.options(keyed.url + "/v1/chat/completions", headers={**pre, "Origin": "https://evil.example"},
                         timeout=10)
    assert "access-control-allow-origin" not in evil.headers


def test_cors_is_off_by_default(http):
    r = http.get("/v1/models", headers={"Origin": "https://app.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = http.options("/v1/chat/completions", headers={"Origin": "https://app.example",
                                                        "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_model_still_answers_with_the_key(keyed):
    from openai import OpenAI

    client = OpenAI(base_url=keyed.url + "/v1", api_key=KEY, max_retries=0, timeout=60)
    r = client.chat.completions.create(model=SMOL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
    assert r.usage.completion_tokens >= 1
