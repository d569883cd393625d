"""onnx-embeddings: an OpenAI-compatible embedding service on ONNX Runtime with micro-batching.

Modules (the tree is the architecture):

- ``settings``  – every knob, read from ``ONNX_EMB_*`` environment variables (pydantic-settings).
- ``export``    – sentence-transformers folder → ONNX (fp32) → dynamic int8 (per-channel); CLI.
- ``model``     – tokenizer + ONNX Runtime session: ``Embedder.embed(ids) -> float32 [n, dim]``.
- ``batcher``   – asyncio micro-batching queue: concurrent requests → one ``session.run`` on a worker thread.
- ``app``       – the FastAPI app: ``/v1/embeddings``, ``/v1/models``, health, ``/metrics``, the ``/`` page.
- ``server``    – uvicorn runner with graceful SIGTERM drain (``python -m onnx_embeddings``).
- ``bench``     – in-process ORT ceiling vs the live service; writes ``results/bench.json`` + ``bench.png``.
- ``provenance``– byte-for-byte copy of the cookbook's template (who/when/what produced a number).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
