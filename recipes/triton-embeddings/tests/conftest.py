"""Fixtures: one real Triton server (both models) for the session; helpers to embed and to read statistics."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from triton_embeddings.launcher import Server  # noqa: E402

SENTENCES = [
    "A man is playing a guitar.", "The new movie is awesome and I loved every minute of it.",
    "How do I bake sourdough bread at home?", "Hi", "The stock market fell sharply on Monday.",
    "Quantum computing uses qubits to represent superpositions of states, which lets some algorithms "
    "explore many possibilities at once.", "Where is the nearest train station?",
    "Please reset my password, I can no longer log in to my account since yesterday evening.",
]
"""Test sentences, 3–30 tokens."""


@pytest.fixture(scope="session")
def server():
    """Triton with the default settings (minilm + minilm_int8 loaded) on free 127.0.0.1 ports."""
    with Server() as s:
        yield s


def embed_http(url: str, sentences: list[str], model: str = "minilm") -> np.ndarray:
    """float32 [len(sentences), 384] from ``model`` via tritonclient HTTP (``url`` = host:port)."""
    import tritonclient.http as httpclient

    with httpclient.InferenceServerClient(url) as c:
        inp = httpclient.InferInput("TEXT", [len(sentences), 1], "BYTES")
        inp.set_data_from_numpy(np.array(sentences, dtype=object).reshape(-1, 1))
        return c.infer(model, [inp]).as_numpy("EMBEDDING")


def model_stats(url: str, model: str) -> dict:
    """Triton's statistics for ``model`` (``GET /v2/models/<model>/stats``), the first version's entry."""
    import httpx

    r = httpx.get(f"http://{url}/v2/models/{model}/stats", timeout=10)
    r.raise_for_status()
    return r.json()["model_stats"][0]
