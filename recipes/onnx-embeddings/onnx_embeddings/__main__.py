"""``python -m onnx_embeddings``: serve (see ``server.main``)."""

from __future__ import annotations

from .server import main

main()
