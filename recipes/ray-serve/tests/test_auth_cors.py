"""Auth (bearer key on /v1/*, probes and metrics open) and CORS (only the configured origin)."""

import httpx

from conftest import ORIGIN

BODY = {"model": "all-MiniLM-L6-v2", "input": "hi"}


def test_missing_or_wrong_key_is_401_with_openai_shape(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        for method, path in (("POST", "/v1/embeddings"), ("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
            r = httpx.request(method, server.url + path, json=BODY, headers=headers, timeout=30)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json()["error"]["code"] == "invalid_api_key"


def test_probes_open(server):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(server.url + path, timeout=10).status_code == 200


def test_cors_only_for_configured_origin(server, http):
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = http.options("/v1/embeddings", headers={"Origin": ORIGIN, **pre})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    bad = http.options("/v1/embeddings", headers={"Origin": "http://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers
