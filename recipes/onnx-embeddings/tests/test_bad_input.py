"""Bad input and overload: always a 4xx (or 503 + Retry-After when full) with a clear message, never a 5xx."""

import asyncio

import httpx
import pytest
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from .conftest import SENTENCES, run_server

E = "/v1/embeddings"
JSON = {"Content-Type": "application/json"}


def post_raw(url, body: bytes, headers=JSON):
    return httpx.post(url + E, content=body, headers=headers, timeout=30)


def assert_error(r, status, needle):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert needle.lower() in err["message"].lower(), err["message"]
    assert err["type"]


@pytest.mark.parametrize("body, status, needle", [
    (b'{"input": ', 422, "not valid JSON"),
    (b'not json at all', 422, "not valid JSON"),
    (b'{"input": "\xff\xfe broken utf-8"}', 400, "UTF-8"),
    (b'[]', 422, "JSON object"),
    (b'{}', 422, "input"),
    (b'{"input": 42}', 422, "non-empty string"),
    (b'{"input": [1, 2, 3]}', 422, "non-empty string"),
    (b'{"input": [["nested"]]}', 422, "non-empty string"),
    (b'{"input": ""}', 422, "non-empty"),
    (b'{"input": []}', 422, "non-empty"),
    (b'{"input": ["ok", ""]}', 422, "input[1]"),
    (b'{"input": "x", "encoding_format": "int8"}', 422, "encoding_format"),
    (b'{"input": "x", "dimensions": 0}', 422, "dimensions"),
    (b'{"input": "x", "dimensions": 128}', 400, "dimensions=128"),
    (b'{"input": "x", "model": "text-embedding-3-small"}', 404, "not found"),
    (b'{"input": ' + b'[' * 100_000 + b']' * 100_000 + b'}', 400, "nested less than 1000 levels"),
    (b'{"input": "x", "dimensions": ' + b'9' * 5000 + b'}', 400, "4300 digits"),
    (b'{"input": "x", "dimensions": 1e999}', 422, "finite number"),
    (b'{"input": "x", "input": 5}', 422, "non-empty string"),  # duplicate keys: the last one counts
    (b'', 422, "JSON object"),
])
def test_bad_bodies(url, body, status, needle):
    assert_error(post_raw(url, body), status, needle)


def test_wrong_content_type(url):
    assert_error(post_raw(url, b'{"input": "x"}', {"Content-Type": "text/plain"}), 422, "application/json")


def test_too_many_inputs(url):
    r = httpx.post(url + E, json={"input": ["a"] * 257}, timeout=30)
    assert_error(r, 413, "limit is 256")


def test_text_over_token_limit(url):
    r = httpx.post(url + E, json={"input": ["short", "word " * 300]}, timeout=30)
    assert_error(r, 400, "input[1] has 302 tokens; the limit is 256")
    assert r.json()["error"]["code"] == "context_length_exceeded"


def test_huge_body_with_content_length(url):
    r = post_raw(url, b'{"input": "' + b"a" * 2_000_000 + b'"}')
    assert_error(r, 413, "exceeds 1048576 bytes")


def test_huge_chunked_body(url):
    def chunks():
        yield b'{"input": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'
    r = httpx.post(url + E, content=chunks(), headers=JSON, timeout=30)  # no Content-Length
    assert_error(r, 413, "exceeds")


def test_server_still_healthy_after_abuse(url):
    assert httpx.post(url + E, json={"input": "still fine"}).status_code == 200


def test_full_queue_gives_503_with_retry_after(tmp_path):
    """A tiny queue under a burst: every request is either served (200) or refused with 503 + Retry-After."""
    with run_server(tmp_path, ONNX_EMB_MAX_QUEUE="8", ONNX_EMB_MAX_BATCH_SIZE="8", ONNX_EMB_MAX_WAIT_MS="0") as s:
        async def burst():
            async with httpx.AsyncClient(base_url=s.url, timeout=60,
                                         limits=httpx.Limits(max_connections=48)) as c:
                return await asyncio.gather(*(c.post(E, json={"input": SENTENCES}) for _ in range(48)))
        rs = asyncio.run(burst())
        codes = [r.status_code for r in rs]
        assert set(codes) <= {200, 503}, codes
        refused = [r for r in rs if r.status_code == 503]
        assert refused, "the burst never filled the queue"
        assert all(r.headers.get("Retry-After") == "1" for r in refused)
        assert "overloaded" in refused[0].json()["error"]["message"]
        assert 200 in codes
        metrics = httpx.get(s.url + "/metrics").text
        assert 'onnx_emb_rejected_total{reason="queue_full"}' in metrics


def test_failed_load_is_reported_safely(tmp_path):
    """A model that cannot load: liveness 200, readiness 503 'failed' with a reason that names no file path
    and no class name, model requests 503 + Retry-After in OpenAI's shape; the log keeps the cause."""
    from onnx_embeddings.launcher import ServerProcess

    from .conftest import MODELS

    srv = ServerProcess(log_path=tmp_path / "server.log", ONNX_EMB_ONNX_DIR=str(MODELS),
                        ONNX_EMB_EXECUTION_PROVIDER="CUDAExecutionProvider")
    if "CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers():
        srv = ServerProcess(log_path=tmp_path / "server.log", ONNX_EMB_ONNX_DIR=str(tmp_path / "empty"),
                            ONNX_EMB_EXPORT_ON_START="false")
    try:
        srv.start(wait_ready=False)

        @retry(stop=stop_after_delay(60), wait=wait_fixed(0.2), reraise=True,
               retry=retry_if_exception_type((httpx.HTTPError, AssertionError)))
        def failed() -> httpx.Response:
            r = httpx.get(srv.url + "/readyz", timeout=2)
            assert r.json()["status"] == "failed", r.text
            return r

        r = failed()
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        body = r.json()
        assert set(body) == {"status", "models", "detail"} and body["models"] == []
        detail = body["detail"]
        assert detail and "/" not in detail.replace("onnxruntime-gpu", "") and "Error" not in detail, detail
        assert httpx.get(srv.url + "/healthz").json() == {"status": "ok"}
        e = httpx.post(srv.url + E, json={"input": "x"}, timeout=10)
        assert e.status_code == 503 and e.headers["Retry-After"] == "1"
        err = e.json()["error"]
        assert err["code"] == "not_ready" and "failed to load" in err["message"]
        assert "/" not in err["message"].replace("onnxruntime-gpu", "") and "Error" not in err["message"]
        assert "model load failed" in srv.logs()
    finally:
        srv.stop()
