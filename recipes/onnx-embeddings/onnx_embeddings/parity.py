"""Parity helpers shared by the tests and the notebook: the fixed sentence set and the PyTorch reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PARITY_SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome and I loved every minute of it.",
    "Hi",
    "Quantum computing uses qubits to represent superpositions of states, which classical bits cannot.",
    "How do I bake sourdough bread at home?",
    "The stock market fell sharply on Monday.",
    "A cat sits on the mat.",
    "Where is the nearest train station?",
]
"""Fixed sentence set: 3 to 20 tokens, so batches of them really are padded."""


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two [n, d] arrays → float [n]."""
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def reference_embeddings(model_dir: Path, sentences: list[str]) -> np.ndarray:
    """sentence-transformers (PyTorch, CPU) embeddings, one sentence at a time → float32 [n, dim].

    This is the reference the ONNX files are judged against: the model's own modules.json pipeline
    (Transformer → mean Pooling → Normalize for all-MiniLM-L6-v2). Never trusts remote code.
    """
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu", trust_remote_code=False)
    return st.encode(sentences, convert_to_numpy=True, batch_size=1)
