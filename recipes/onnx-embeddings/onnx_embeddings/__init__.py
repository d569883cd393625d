"""onnx-embeddings: an OpenAI-compatible embedding service on ONNX Runtime with micro-batching.

Modules (the tree is the architecture):

Offline (export tooling, torch):

- ``export``     – sentence-transformers folder → ONNX (fp32) → dynamic int8 (per-channel); CLI.
- ``parity``     – the fixed sentence set and the PyTorch reference (tests and notebook).

Serving (no torch unless the server exports on start):

- ``settings``   – every knob, read from ``ONNX_EMB_*`` environment variables (pydantic-settings; plain data).
- ``head``       – the model folder's pooling / normalisation / max length (shared with ``export``).
- ``model``      – tokenizer + ONNX Runtime session: ``Embedder.embed(texts) -> float32 [n, dim]``.
- ``loader``     – ``load_embedder(settings)``: the one way the server and the bench build the model.
- ``batcher``    – asyncio micro-batching queue: concurrent requests → one ``session.run`` on a worker thread.
- ``schemas``    – OpenAI request / response / error models (the OpenAPI document).
- ``errors``     – ``ApiError`` and the handlers that render every error in OpenAI's shape.
- ``metrics``    – Prometheus metrics (``/metrics``).
- ``middleware`` – body-size limit, request latency and the in-flight count a drain waits for.
- ``state``      – loaded model, batcher and readiness state shared by routes, lifespan and drain.
- ``routes``     – ``/v1/embeddings``, ``/v1/models``, ``/healthz``, ``/readyz``, ``/metrics``, the ``/`` page.
- ``app``        – ``create_app``: wires the above; the lifespan loads the model in a worker thread.
- ``server``     – uvicorn runner with the cookbook's drain on SIGTERM (``python -m onnx_embeddings``).

Around it:

- ``launcher``   – ``ServerProcess``: the server as a subprocess on a free port (tests and bench).
- ``bench``      – in-process ORT ceiling vs the live service; writes ``results/bench.json`` + ``bench.png``.
- ``servekit``   – byte-for-byte copy of ``cookbook/servekit_template.py`` (probes, errors, auth, drain).
- ``provenance`` – byte-for-byte copy of the cookbook's template (who/when/what produced a number).
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
