"""TRITON_EMB_API_KEY -> Triton's own access control (--http-restricted-api / --grpc-restricted-protocol).

Triton answers a missing or wrong key with 403 (not the house convention's 401 + WWW-Authenticate: a declared
deviation in recipe.yaml); health and metadata stay open, as do the metrics."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from triton_embeddings.launcher import Server, tritonserver_args, unsupported
from triton_embeddings.settings import Settings

KEY = "sk-test-0123456789"
BODY = {"inputs": [{"name": "TEXT", "datatype": "BYTES", "shape": [1, 1], "data": ["hello"]}]}


def test_house_settings_triton_cannot_honour_are_reported():
    s = Settings(cors_origins="http://a.example", drain_delay_s=1.0, max_body_bytes=1000)
    assert [w.split()[0] for w in unsupported(s)] == ["TRITON_EMB_CORS_ORIGINS", "TRITON_EMB_DRAIN_DELAY_S",
                                                      "TRITON_EMB_MAX_BODY_BYTES"]
    assert unsupported(Settings()) == []
    assert not any("restricted" in a for a in tritonserver_args(Settings(), "r", "b"))


@pytest.fixture(scope="module")
def keyed():
    with Server(env={"TRITON_EMB_API_KEY": KEY, "TRITON_EMB_LOAD_MODELS": "minilm"}) as s:
        yield s


def test_http_inference_needs_the_key(keyed):
    url = f"{keyed.url}/v2/models/minilm/infer"
    for headers in ({}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": KEY}):
        r = httpx.post(url, json=BODY, headers=headers)
        assert r.status_code == 403 and "restricted" in r.json()["error"], (headers, r.text)
    assert httpx.post(url, json=BODY, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    for path in ("/v2/repository/index", "/v2/models/minilm/stats", "/v2/models/minilm/config"):
        method = httpx.post if path.endswith("index") else httpx.get
        assert method(keyed.url + path).status_code == 403, path
    # probes, metadata and metrics stay open
    assert httpx.get(f"{keyed.url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{keyed.url}/v2/models/minilm").status_code == 200
    assert httpx.get(keyed.metrics_url).status_code == 200


def test_grpc_inference_needs_the_key_header(keyed):
    inp = grpcclient.InferInput("TEXT", [1, 1], "BYTES")
    inp.set_data_from_numpy(np.array([["hello"]], dtype=object))
    with grpcclient.InferenceServerClient(keyed.grpc_url) as c:
        with pytest.raises(InferenceServerException, match="restricted"):
            c.infer("minilm", [inp])
        out = c.infer("minilm", [inp], headers={"triton-grpc-protocol-authorization": f"Bearer {KEY}"})
        assert out.as_numpy("EMBEDDING").shape == (1, 384)
