"""The live service: parity with PyTorch, batch invariance, OpenAI client, base64, metrics, examples."""

import asyncio
import base64
import os
import re
import subprocess
import sys

import httpx
import numpy as np

from .conftest import RECIPE, SENTENCES, cosine_rows


def embed(url, inputs, **kw):
    r = httpx.post(url + "/v1/embeddings", json={"input": inputs, **kw}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_served_embeddings_match_pytorch(url, reference):
    body = embed(url, SENTENCES, model="all-MiniLM-L6-v2")
    got = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert [d["index"] for d in body["data"]] == list(range(len(SENTENCES)))
    assert cosine_rows(got, reference).min() >= 0.9999


def test_alone_and_in_batch_are_identical(url):
    batch = np.array([d["embedding"] for d in embed(url, SENTENCES)["data"]], dtype=np.float32)
    alone = np.array([embed(url, s)["data"][0]["embedding"] for s in SENTENCES], dtype=np.float32)
    np.testing.assert_allclose(alone, batch, atol=1e-5)
    assert cosine_rows(alone, batch).min() >= 0.9999


def test_base64_is_little_endian_float32(url):
    f = embed(url, SENTENCES[:2])
    b = embed(url, SENTENCES[:2], encoding_format="base64")
    for df, db in zip(f["data"], b["data"]):
        vec = np.frombuffer(base64.b64decode(db["embedding"]), dtype="<f4")
        np.testing.assert_allclose(vec, np.array(df["embedding"], dtype=np.float32), atol=1e-6)


def test_usage_counts_tokens(url, embedder):
    body = embed(url, SENTENCES)
    n = sum(len(e) for e in embedder.tokenize(SENTENCES))
    assert body["usage"] == {"prompt_tokens": n, "total_tokens": n}
    assert body["object"] == "list" and body["model"] == "all-MiniLM-L6-v2"


def test_openai_client_round_trip(url, reference):
    from openai import OpenAI

    client = OpenAI(base_url=url + "/v1", api_key="unused")
    # the client asks for base64 by default and decodes it itself
    resp = client.embeddings.create(model="all-MiniLM-L6-v2", input=SENTENCES)
    got = np.array([d.embedding for d in resp.data], dtype=np.float32)
    assert cosine_rows(got, reference).min() >= 0.9999
    one = client.embeddings.create(model="all-MiniLM-L6-v2", input=SENTENCES[0], encoding_format="float")
    assert len(one.data) == 1 and len(one.data[0].embedding) == 384
    assert [m.id for m in client.models.list()] == ["all-MiniLM-L6-v2"]
    assert client.models.retrieve("all-MiniLM-L6-v2").id == "all-MiniLM-L6-v2"


def test_health_and_models(url):
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(url + "/readyz").json() == {"status": "ready", "models": ["all-MiniLM-L6-v2"], "detail": None}
    models = httpx.get(url + "/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "all-MiniLM-L6-v2"
    assert httpx.get(url + "/v1/models/nope").status_code == 404


def _metric(text, name):
    m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_micro_batcher_batches_under_concurrency(url):
    """32 concurrent single-sentence requests must produce at least one ORT call with batch size > 1."""
    before = httpx.get(url + "/metrics").text
    calls0 = _metric(before, "onnx_emb_batch_size_count")
    le1_0 = _metric(before, 'onnx_emb_batch_size_bucket{le="1.0"}')

    async def fire():
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as c:
            rs = await asyncio.gather(*(c.post("/v1/embeddings", json={"input": SENTENCES[i % 8]})
                                        for i in range(96)))
        return [r.status_code for r in rs]

    assert asyncio.run(fire()) == [200] * 96
    after = httpx.get(url + "/metrics").text
    calls = _metric(after, "onnx_emb_batch_size_count") - calls0
    singles = _metric(after, 'onnx_emb_batch_size_bucket{le="1.0"}') - le1_0
    assert 0 < calls < 96, "every request ran alone: no batching happened"
    assert singles < calls, "no batch had more than one sentence"
    for name in ("onnx_emb_queue_depth", "onnx_emb_request_duration_seconds_bucket", "onnx_emb_inference_seconds_count"):
        assert name in after


def test_front_page_is_served(url):
    r = httpx.get(url + "/")
    assert r.status_code == 200 and "v1/embeddings" in r.text


def test_examples_run_against_the_server(url):
    env = {**os.environ, "ONNX_EMB_URL": url + "/v1"}
    out = subprocess.run([sys.executable, "examples/client.py"], cwd=RECIPE, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "3 embeddings of dimension 384" in out.stdout
    env["ONNX_EMB_URL"] = url
    out = subprocess.run(["sh", "examples/curl.sh"], cwd=RECIPE, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"object":"list"' in out.stdout and '"status":"ready"' in out.stdout
