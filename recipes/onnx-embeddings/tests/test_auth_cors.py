"""Optional API key and CORS (off unless configured), on a live server."""

import httpx

from .conftest import run_server


def test_api_key_and_cors(tmp_path):
    with run_server(tmp_path, ONNX_EMB_API_KEY="s3cret", ONNX_EMB_CORS_ORIGINS="https://app.example") as s:
        e = s.url + "/v1/embeddings"
        r = httpx.post(e, json={"input": "x"})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert "api key" in r.json()["error"]["message"].lower()
        assert httpx.post(e, json={"input": "x"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(e, json={"input": "x"}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(s.url + "/v1/models").status_code == 401
        assert httpx.get(s.url + "/healthz").status_code == 200  # probes need no key
        pre = httpx.options(e, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        assert pre.headers.get("access-control-allow-origin") == "https://app.example"
        from openai import AuthenticationError, OpenAI
        import pytest

        with pytest.raises(AuthenticationError):
            OpenAI(base_url=s.url + "/v1", api_key="wrong", max_retries=0).embeddings.create(
                model="all-MiniLM-L6-v2", input="x")
        ok = OpenAI(base_url=s.url + "/v1", api_key="s3cret").embeddings.create(model="all-MiniLM-L6-v2", input="x")
        assert len(ok.data[0].embedding) == 384


def test_cors_off_by_default(url):
    r = httpx.get(url + "/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
