"""Dynamic batching, proven with Triton's statistics API: under concurrency, executions < inferences."""

from __future__ import annotations

import asyncio

import numpy as np

from .conftest import SENTENCES, model_stats


async def _burst(url: str, concurrency: int, per_worker: int) -> int:
    import tritonclient.http.aio as aioclient

    c = aioclient.InferenceServerClient(url, conn_limit=concurrency)
    ok = 0

    async def worker(i: int) -> None:
        nonlocal ok
        for k in range(per_worker):
            inp = aioclient.InferInput("TEXT", [1, 1], "BYTES")
            inp.set_data_from_numpy(np.array([[SENTENCES[(i + k) % len(SENTENCES)]]], dtype=object))
            r = await c.infer("minilm", [inp])
            ok += r.as_numpy("EMBEDDING").shape == (1, 384)

    try:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    finally:
        await c.close()
    return ok


def test_concurrent_requests_form_batches(server):
    before = {m: model_stats(server.host_port, m) for m in ("minilm_encoder", "minilm_tokenizer")}
    assert asyncio.run(_burst(server.host_port, concurrency=16, per_worker=8)) == 128
    for m, b in before.items():
        a = model_stats(server.host_port, m)
        inferences = a["inference_count"] - b["inference_count"]
        executions = a["execution_count"] - b["execution_count"]
        assert inferences == 128, (m, inferences)
        assert executions < inferences, f"{m}: {executions} executions for {inferences} inferences: no batching"
    # the batch-size histogram (batch_stats) records batches larger than 1
    sizes = {int(s["batch_size"]) for s in model_stats(server.host_port, "minilm_encoder")["batch_stats"]}
    assert max(sizes) > 1, sizes
