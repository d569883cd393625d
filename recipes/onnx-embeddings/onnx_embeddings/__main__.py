"""``python -m onnx_embeddings``: serve (see ``server.main``)."""

from .server import main

main()
